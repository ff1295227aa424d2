"""Fetch a model artifact into the pod and check it: the init container of every served version.

Usage: fetch.py URI DIR (or MODEL_URI / MODEL_DIR). Downloads with KServe's storage library
(kserve-storage: s3, gs, azure, hf, http(s), oci, ...), configured by environment variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, HF_TOKEN, HF_ENDPOINT, ...) that
the operator takes from the Secret the ModelVersion names. A failed download is tried again,
FETCH_ATTEMPTS times in all (default 3), with a growing pause; a digest that does not match is
not. When MODEL_DIGEST (`sha256:<hex>`) is set, the fetched artifact must match it: a single
file's SHA-256, or for several files the SHA-256 of their `sha256sum` listing (see digest()).
On failure the reason goes to the termination message, which the operator copies into the
ModelVersion's conditions; secret values are blanked out of it first. On success the message
is `{"uri", "digest", "files"}`: what a training or evaluation run read (its lineage).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HF_TOKEN", "AZURE_CLIENT_SECRET",
              "AZURE_STORAGE_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS_JSON")
# Answers that fetching again cannot change (the library raises plain exceptions, so by text).
PERMANENT = ("authentication failed", "AccessDenied", "InvalidAccessKeyId",
             "SignatureDoesNotMatch", "NoSuchBucket", "NoSuchKey", "Cannot recognize storage",
             "No model found",
             " 401", " 403", " 404", "Not Found", "Forbidden", "Unauthorized")
TERMINATION_LOG = Path(os.environ.get("FETCH_TERMINATION_LOG", "/dev/termination-log"))
log = logging.getLogger("modelops.fetch")


class Mismatch(Exception):
    """The artifact is not what the version pinned: fetching again cannot help."""


def files_of(root: Path) -> list[Path]:
    return sorted((p for p in root.rglob("*") if p.is_file() and not p.is_symlink()),
                  key=lambda p: p.relative_to(root).as_posix().encode())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def digest(root: Path) -> str:
    """One file: its SHA-256. Several: the SHA-256 of the lines `<sha256>  <path>\\n` of every
    file, by path (bytewise), paths relative to the artifact's root -- what
    `find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum`
    prints in that root."""
    files = files_of(root)
    if not files:
        raise Mismatch(f"the artifact is empty: nothing was fetched into {root}")
    if len(files) == 1:
        return "sha256:" + sha256_file(files[0])
    listing = "".join(f"{sha256_file(p)}  {p.relative_to(root).as_posix()}\n" for p in files)
    return "sha256:" + hashlib.sha256(listing.encode()).hexdigest()


def scrub(text: str) -> str:
    for name in SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def clear(out: Path) -> None:
    for p in out.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def fetch(uri: str, out: Path, attempts: int, pause: float) -> None:
    from kserve_storage import Storage  # heavy: imported once the arguments are known good

    for attempt in range(1, attempts + 1):
        try:
            Storage.download(uri, str(out))
            return
        except Exception as e:  # the library raises anything from any SDK
            reason = f"{type(e).__name__}: {e}"
            if any(p in reason for p in PERMANENT):
                raise RuntimeError(f"fetching {uri} failed: {reason}") from e
            if attempt == attempts:
                raise RuntimeError(f"fetching {uri} failed after {attempts} attempts: "
                                   f"{reason}") from e
            log.warning("attempt %d/%d failed: %s; again in %.0fs", attempt, attempts,
                        scrub(reason), pause)
            clear(out)
            time.sleep(pause)
            pause *= 2


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fetch %(levelname)s %(message)s")
    uri = argv[1] if len(argv) > 1 else os.environ.get("MODEL_URI", "")
    out = Path(argv[2] if len(argv) > 2 else os.environ.get("MODEL_DIR", "/mnt/models"))
    want = os.environ.get("MODEL_DIGEST", "")
    try:
        if not uri:
            raise Mismatch("no artifact URI given (argument 1 or MODEL_URI)")
        if want and not (want.startswith("sha256:") and len(want) == 71):
            raise Mismatch(f"MODEL_DIGEST must be sha256:<64 hex>, not {want!r}")
        out.mkdir(parents=True, exist_ok=True)
        clear(out)  # a restarted pod fetches again into the same emptyDir
        t0 = time.monotonic()
        fetch(uri, out, int(os.environ.get("FETCH_ATTEMPTS", "3")),
              float(os.environ.get("FETCH_RETRY_PAUSE", "2")))
        # The hub client's bookkeeping is not part of the model (nor of its digest).
        shutil.rmtree(out / ".cache" / "huggingface", ignore_errors=True)
        with contextlib.suppress(OSError):
            (out / ".cache").rmdir()
        got = digest(out)
        n = len(files_of(out))
        if want and got != want:
            raise Mismatch(f"digest mismatch for {uri}: the version pins {want}, the fetched "
                           f"artifact ({n} file{'s' if n != 1 else ''}) is {got}")
        log.info("fetched %s: %d file(s), %s, %.1fs%s", uri, n, got, time.monotonic() - t0,
                 ", digest verified" if want else "")
        # The operator records what a training or evaluation run read from this report.
        with contextlib.suppress(OSError):
            TERMINATION_LOG.write_text(json.dumps({"uri": scrub(uri), "digest": got,
                                                   "files": n}))
        return 0
    except Exception as e:
        msg = scrub(str(e) if isinstance(e, (Mismatch, RuntimeError)) else
                    f"{type(e).__name__}: {e}")
        log.error("%s", msg)
        with contextlib.suppress(OSError):
            TERMINATION_LOG.write_text(msg[:3500])
        return 2 if isinstance(e, Mismatch) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
