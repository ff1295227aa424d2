{{- define "modelops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "modelops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "modelops.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "modelops.serviceAccount" -}}
{{- default (include "modelops.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The rules the operator needs in the namespaces it watches. */}}
{{- define "modelops.namespacedRules" -}}
- apiGroups: [modelops.io]
  resources: [modelversions, updatepolicies]
  verbs: [get, list, watch, patch, update]
- apiGroups: [modelops.io]  # retraining makes a model's next version
  resources: [modelversions]
  verbs: [create]
- apiGroups: [modelops.io]
  resources: [modelversions/status, updatepolicies/status]
  verbs: [get, patch, update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, list, watch, patch, update]
- apiGroups: [split.smi-spec.io]
  resources: [trafficsplits]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [traefik.io]  # gatewayAPI implementation Traefik: the mirroring and sticky
  resources: [traefikservices]  # TraefikServices a policy owns (watched)
  verbs: [get, list, watch, create, patch, delete]  # create: a server-side apply makes one
- apiGroups: [kueue.x-k8s.io]  # training queueName: Kueue's word on a queued gang
  resources: [workloads]
  verbs: [get, list, watch]
- apiGroups: [keda.sh]  # spec.autoscaling: the ScaledObject a policy owns
  resources: [scaledobjects]
  verbs: [get, create, patch, delete]  # create: a server-side apply that makes one
{{- if and .Values.ha.enabled .Values.watchNamespaces }}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end -}}
