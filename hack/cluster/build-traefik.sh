# Sourced by build.sh (its say, die, built, module_dir, progress, all_present, cache and
# versions): the Traefik part, long for the workarounds it carries.
# Traefik, the Gateway API implementation of the local cluster (pure Go), built from a copy of
# its module source because its go.mod has replace directives. Three things the Go proxy here
# does not serve are worked around, each failing the build loudly if it stops applying:
# - its nested module github.com/traefik/traefik/dynamic/ext (two empty extension structs in
#   the open-source tree) is left out of the module zip: written back as upstream has it;
# - its fork of go-http-auth (basic and digest auth) is not served: upstream v0.4.0, plus the
#   two functions the fork adds (CheckSecret, RequireAuthStale), in a local copy;
# - ACME's DNS-challenge providers pull cloud SDKs that are not served: the import is cut and
#   a DNS challenge says this build has none (HTTP and TLS challenges are untouched).
build_traefik() {
  local dir="$cache/traefik-$TRAEFIK_VERSION"
  if all_present "$dir/bin" traefik && [ -f "$dir/crds/traefik.yaml" ]; then
    say "traefik $TRAEFIK_VERSION: cached"; return
  fi
  say "traefik $TRAEFIK_VERSION: fetching the module"
  local mod auth
  mod=$(module_dir "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")
  [ -f "$mod/go.mod" ] || die "could not download github.com/traefik/traefik/v3@$TRAEFIK_VERSION"
  auth=$(module_dir "github.com/abbot/go-http-auth@v0.4.0")
  [ -f "$auth/basic.go" ] || die "could not download github.com/abbot/go-http-auth@v0.4.0"
  rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/crds"
  cp -r "$mod" "$dir/src" && cp -r "$auth" "$dir/go-http-auth" && chmod -R u+w "$dir/src" "$dir/go-http-auth"
  local ext="$dir/src/pkg/config/dynamic/ext"
  mkdir -p "$ext"
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' > "$ext/go.mod"
  cat > "$ext/ext.go" <<'GO'
package ext

// HTTP is a dynamic.HTTP extension.
type HTTP struct{}

// Router is a dynamic.Router extension.
type Router struct{}

// RouterIng is a RouterIng extension for ingress provider annotations.
type RouterIng struct{}

// ToRouter converts RouterIng to a Router.
func (r RouterIng) ToRouter() Router { return Router{} }
GO
  printf 'module github.com/abbot/go-http-auth\n\ngo 1.24.0\n' > "$dir/go-http-auth/go.mod"
  cat > "$dir/go-http-auth/modelops_compat.go" <<'GO'
package auth

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CheckSecret reports whether password matches secret, hashed as htpasswd hashes it.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, cmp := range compareFuncs[1:] {
		if strings.HasPrefix(secret, cmp.prefix) {
			compare = cmp.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale is RequireAuth for a nonce that has expired: the client may retry at once.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	nonce := RandomKey()
	a.mutex.Lock()
	a.clients[nonce] = &digest_client{nc: 0, last_seen: time.Now().UnixNano()}
	a.mutex.Unlock()
	w.Header().Set(contentType, a.Headers.V().UnauthContentType)
	w.Header().Set(a.Headers.V().Authenticate, fmt.Sprintf(
		`Digest realm="%s", nonce="%s", opaque="%s", algorithm="MD5", qop="auth", stale=true`,
		a.Realm, nonce, a.Opaque))
	w.WriteHeader(a.Headers.V().UnauthCode)
	w.Write([]byte(a.Headers.V().UnauthResponse))
}
GO
  local go_mod="$dir/src/go.mod" acme="$dir/src/pkg/provider/acme/provider.go"
  grep -q 'github.com/abbot/go-http-auth => github.com/containous/go-http-auth' "$go_mod" \
    || die "traefik: its go-http-auth replace has moved; the workaround no longer applies"
  sed -i 's#github.com/abbot/go-http-auth => github.com/containous/go-http-auth [^ ]*#github.com/abbot/go-http-auth => ../go-http-auth#' "$go_mod"
  grep -q 'dns.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)' "$acme" \
    || die "traefik: the ACME DNS provider call has moved; the trim no longer applies"
  sed -i 's#^\t"github.com/go-acme/lego/v5/providers/dns"$##; s#dns\.NewDNSChallengeProviderByName(p.DNSChallenge.Provider)#nil, fmt.Errorf("this traefik build has no ACME DNS providers: %s", p.DNSChallenge.Provider)#' "$acme"
  say "traefik $TRAEFIK_VERSION: compiling (about 3 min)"
  (cd "$dir/src" && go build -mod=mod -v -trimpath \
      -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
      -o "$dir/bin/traefik" ./cmd/traefik 2>&1 | progress traefik)
  [ -x "$dir/bin/traefik" ] || die "traefik build did not produce its binary"
  # Its own CRDs (TraefikService carries mirroring and sticky weights) and RBAC.
  local ref="$dir/src/docs/content/reference/dynamic-configuration"
  cp "$ref/kubernetes-crd-definition-v1.yml" "$dir/crds/traefik.yaml"
  cp "$ref/kubernetes-gateway-rbac.yml" "$dir/crds/gateway-rbac.yaml"
  cp "$ref/kubernetes-crd-rbac.yml" "$dir/crds/crd-rbac.yaml"
  rm -rf "$dir/src" "$dir/go-http-auth"
  built "traefik $TRAEFIK_VERSION"
}
