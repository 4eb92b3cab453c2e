{{/* Release-scoped name prefix: "kinora" for a release named kinora. */}}
{{- define "kinora.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kinora.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kinora
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector of one workload; ctx = dict root w. */}}
{{- define "kinora.selectorLabels" -}}
app.kubernetes.io/name: {{ .w.name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "kinora.image" -}}
{{- if .digest -}}{{ .repository }}@{{ .digest }}{{- else -}}{{ .repository }}:{{ .tag }}{{- end -}}
{{- end -}}

{{/* host:port of a gRPC service inside the release. */}}
{{/* gRPC clients resolve the headless Service to every ready pod and spread
calls round robin (one long-lived HTTP/2 connection to a virtual IP would pin
a client to one replica). */}}
{{- define "kinora.addr" -}}
dns:///{{ include "kinora.fullname" .root }}-{{ .name }}-pods.{{ .root.Release.Namespace }}.svc.{{ .root.Values.clusterDomain }}:{{ .root.Values.ports.grpc }}
{{- end -}}

{{- define "kinora.tritonAddr" -}}
{{ include "kinora.fullname" .root }}-model-{{ .pool }}:8001
{{- end -}}

{{- define "kinora.databaseSecret" -}}
{{- $override := index .root.Values.external.postgres.databases .db | default dict -}}
name: {{ $override.secretName | default .root.Values.external.postgres.secretName }}
key: {{ $override.key | default .db }}
{{- end -}}

{{- define "kinora.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kinora.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
Every workload the chart runs, normalised into one list so that a single loop
(templates/workloads.yaml) renders them all: the six services, then for each
enabled model pool its Triton server and its generator workers.
kind: grpc | http | worker | modelServer
*/}}
{{- define "kinora.workloads" -}}
{{- $root := . -}}
{{- $pools := list -}}
{{- range $pool, $p := .Values.modelPools }}{{ if $p.enabled }}{{ $pools = append $pools $pool }}{{ end }}{{ end -}}
{{- range $name, $c := .Values.components }}
{{- if $c.enabled }}
- name: {{ $name }}
  role: {{ $name }}
  kind: {{ ternary "http" "grpc" (eq $name "gateway") }}
  image: {{ toJson $root.Values.image }}
  command: ["python", "-m", "services.{{ $name }}"]
  args: []
  replicas: {{ $c.replicas }}
  hpa: {{ toJson $c.autoscaling }}
  pdb: {{ toJson $c.pdb }}
  resources: {{ toJson $c.resources }}
  env: {{ toJson $c.env }}
  nodeSelector: {{ toJson $c.nodeSelector }}
  tolerations: {{ toJson $c.tolerations }}
  allowFrom: {{ toJson $c.allowFrom }}
  database: {{ ne $name "gateway" }}
  blob: {{ or (eq $name "generator") (eq $name "identity") }}  {{- /* identity writes likeness assets there; workers read them */}}
  c2pa: {{ eq $name "generator" }}
  jwtKeys: {{ eq $name "identity" }}
  tlsIdentity: {{ $name }}
  kafkaUser: {{ ne $name "gateway" }}
  serviceType: {{ (($c.service | default dict).type) | default "ClusterIP" }}
  terminationGracePeriodSeconds: 30
  {{- if eq $name "generator" }}
  pools: {{ toJson $pools }}
  {{- end }}
{{- end }}
{{- end }}
{{- range $pool, $p := .Values.modelPools }}
{{- if $p.enabled }}
- name: model-{{ $pool }}
  role: model-server
  kind: modelServer
  pool: {{ $pool }}
  model: {{ $p.model }}
  gpus: {{ $p.gpus }}
  image: {{ toJson $root.Values.modelServerImage }}
  command: ["python", "-m", "kinora.models.serve"]
  args: ["--model", {{ $p.model | quote }}, "--grpc-port", "8001", "--http-port", "8000", "--metrics-port", "8002"]
  replicas: {{ $p.scaling.minReplicas }}
  scaling: {{ toJson $p.scaling }}
  pdb: {maxUnavailable: 1}
  resources: {{ toJson $p.resources }}
  env: {{ toJson $p.env }}
  nodeSelector: {{ toJson $p.nodeSelector }}
  tolerations: {{ toJson $p.tolerations }}
  allowFrom: [generator, generator-worker]
  startupProbe: {{ toJson $p.startupProbe }}
  shmSize: {{ $p.shmSize }}
  modelStore: {{ toJson $p.modelStore }}
  serviceType: ClusterIP
  terminationGracePeriodSeconds: 60
- name: generator-worker-{{ $pool }}
  role: generator-worker
  kind: worker
  pool: {{ $pool }}
  model: {{ $p.model }}
  image: {{ toJson $root.Values.image }}
  command: ["python", "-m", "services.generator.worker"]
  args: []
  replicas: {{ $p.worker.minReplicas }}
  scaling: {{ toJson (merge (dict "minReplicas" $p.worker.minReplicas "maxReplicas" $p.worker.maxReplicas) $p.scaling) }}
  pdb: {maxUnavailable: 1}
  resources: {{ toJson $root.Values.generatorWorker.resources }}
  env: {{ toJson $root.Values.generatorWorker.env }}
  nodeSelector: {}
  tolerations: []
  allowFrom: []
  database: true
  databaseName: generator
  blob: true
  c2pa: true
  tlsIdentity: generator
  serviceType: ClusterIP
  terminationGracePeriodSeconds: {{ $root.Values.generatorWorker.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Name label only, for objects that already carry kinora.labels. */}}
{{- define "kinora.nameLabel" -}}
app.kubernetes.io/name: {{ .w.name }}
{{- end -}}

{{/* The certificate identities of the release: each enabled service, the gateway, and
`admin` (operators) when tls.operatorCertificate. Generator workers use the generator's. */}}
{{- define "kinora.tlsIdentities" -}}
{{- $names := list -}}
{{- range $name, $c := .Values.components }}{{ if $c.enabled }}{{ $names = append $names $name }}{{ end }}{{ end -}}
{{- if .Values.tls.operatorCertificate }}{{ $names = append $names "admin" }}{{ end -}}
{{- toJson $names -}}
{{- end -}}

{{/* Secret holding tls.crt, tls.key and ca.crt of one identity; ctx = dict root name. */}}
{{- define "kinora.tlsSecret" -}}
{{- $existing := .root.Values.tls.existingSecrets | default dict -}}
{{- if and (eq .root.Values.tls.source "existingSecrets") (hasKey $existing .name) -}}
{{- index $existing .name -}}
{{- else -}}
{{- include "kinora.fullname" .root }}-{{ .name }}-tls
{{- end -}}
{{- end -}}

{{/*
Which service writes which topics and reads which (as its consumer group, named after the
service): the outbox topics each service's create_service(topics=...) names, and the topics
its consumers subscribe to (consume_topics). tests/helm checks this against the code.
*/}}
{{- define "kinora.kafkaAccess" -}}
identity:
  writes: [kinora.identity.users.v1, kinora.identity.verifications.v1]
  reads: [kinora.cameo.consent.v1]
cameo:
  writes: [kinora.cameo.consent.v1, kinora.cameo.takedowns.v1, kinora.cameo.notifications.v1]
  reads: [kinora.identity.users.v1, kinora.identity.verifications.v1, kinora.feed.graph.v1, kinora.feed.posts.v1, kinora.generator.generations.v1]
feed:
  writes: [kinora.feed.posts.v1, kinora.feed.graph.v1]
  reads: [kinora.generator.generations.v1, kinora.cameo.takedowns.v1, kinora.identity.users.v1]
generator:
  writes: [kinora.generator.generations.v1, kinora.generator.demand.v1]
  reads: [kinora.cameo.takedowns.v1, kinora.cameo.consent.v1, kinora.identity.users.v1]
billing:
  writes: [kinora.billing.usage.v1, kinora.billing.payments.v1, kinora.billing.reconciliation.v1]
  reads: [kinora.generator.generations.v1, kinora.generator.demand.v1, kinora.identity.users.v1]
{{- end -}}
