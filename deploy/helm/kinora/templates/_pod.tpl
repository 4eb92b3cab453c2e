{{/* Container env of one workload; ctx = dict root w. Settings are env-only. */}}
{{- define "kinora.env" -}}
{{- $root := .root -}}
{{- $w := .w -}}
{{- $v := $root.Values -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: HOME            # libraries cache under $HOME; the root filesystem is read-only
  value: /tmp
- name: KINORA_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $w.role | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.external.otlp.endpoint | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE),service.instance.id=$(POD_NAME)"
{{- if has $w.kind (list "grpc" "http" "worker") }}
- name: KINORA_METRICS_PORT
  value: {{ $v.ports.metrics | quote }}
- name: KINORA_KAFKA_BOOTSTRAP
  value: {{ $v.external.kafka.bootstrap | quote }}
{{- range $svc := list "identity" "cameo" "feed" "generator" "billing" }}
- name: KINORA_{{ upper $svc }}_ADDR
  value: {{ include "kinora.addr" (dict "root" $root "name" $svc) | quote }}
{{- end }}
{{- end }}
{{- if has $w.kind (list "grpc" "worker") }}
{{- /* Workers start like a service: gRPC health (probes), RuntimeService, no API. */}}
- name: KINORA_GRPC_PORT
  value: {{ $v.ports.grpc | quote }}
- name: KINORA_HEALTH_PORT
  value: {{ $v.ports.health | quote }}
{{- end }}
{{- if has $w.kind (list "grpc" "http" "worker") }}
- name: KINORA_INTERNAL_SECRET
  valueFrom: {secretKeyRef: {name: {{ $v.secrets.internal.secretName }}, key: {{ $v.secrets.internal.key }}}}
{{- end }}
{{- if and $v.tls.enabled $w.tlsIdentity }}
{{- /* This workload's certificate (spiffe://kinora/<service>): mutual TLS, required. */}}
- name: KINORA_TLS_CERT_FILE
  value: /var/run/kinora/tls/tls.crt
- name: KINORA_TLS_KEY_FILE
  value: /var/run/kinora/tls/tls.key
- name: KINORA_TLS_CA_FILE
  value: /var/run/kinora/tls/ca.crt
- name: KINORA_REQUIRE_MTLS
  value: "true"
{{- end }}
{{- $kafkaAuth := $v.external.kafka.authentication }}
{{- if and $w.kafkaUser (ne $kafkaAuth "none") }}
{{- /* Kafka as this service's own KafkaUser (kinora.runtime.kafka). */}}
- name: KINORA_KAFKA_SECURITY_PROTOCOL
  value: {{ ternary "SSL" "SASL_SSL" (eq $kafkaAuth "tls") }}
- name: KINORA_KAFKA_CA_FILE
  value: /var/run/kinora/kafka-ca/{{ $v.external.kafka.caSecret.key }}
{{- if eq $kafkaAuth "tls" }}
- name: KINORA_KAFKA_CERT_FILE
  value: /var/run/kinora/kafka/user.crt
- name: KINORA_KAFKA_KEY_FILE
  value: /var/run/kinora/kafka/user.key
{{- else }}
- name: KINORA_KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: KINORA_KAFKA_USERNAME
  value: {{ include "kinora.fullname" $root }}-{{ $w.name }}
- name: KINORA_KAFKA_PASSWORD_FILE
  value: /var/run/kinora/kafka/password
{{- end }}
{{- end }}
{{- if eq $w.kind "http" }}
- name: KINORA_HTTP_PORT
  value: {{ $v.ports.http | quote }}
{{- if $v.external.redis.secretName }}
- name: KINORA_REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ $v.external.redis.secretName }}, key: {{ $v.external.redis.secretKey }}}}
{{- else }}
- name: KINORA_REDIS_URL
  value: {{ $v.external.redis.url | quote }}
{{- end }}
{{- with $v.edge.trustedProxies }}
- name: KINORA_TRUSTED_PROXIES
  value: {{ join "," . | quote }}
{{- end }}
{{- range $kind := list "video" "image" "json" }}
- name: KINORA_BODY_MAX_{{ upper $kind }}_BYTES
  value: {{ mul (index $v.edge.maxBodyMiB $kind) 1048576 | quote }}
{{- end }}
{{- end }}
{{- if $w.database }}
{{- $db := include "kinora.databaseSecret" (dict "root" $root "db" ($w.databaseName | default $w.name)) | fromYaml }}
- name: KINORA_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ $db.name }}, key: {{ $db.key }}}}
{{- end }}
{{- if $w.blob }}
- name: KINORA_BLOB_DIR
  value: /var/lib/kinora/blobs
{{- end }}
{{- if or (eq $w.kind "modelServer") (eq $w.kind "worker") (eq $w.name "gateway") (eq $w.name "generator") }}
{{- /* The invisible watermark's key: drawn by the models, read by the public check and takedowns,
       re-drawn by the workers on a stitch (each source's mark out, the stitch's in). */}}
- name: KINORA_WATERMARK_KEY
  valueFrom: {secretKeyRef: {name: {{ $v.secrets.watermark.secretName }}, key: {{ $v.secrets.watermark.key }}}}
{{- end }}
{{- if eq $w.name "gateway" }}
{{- /* The public provenance check trusts C2PA manifests chained to this deployment's root:
       the signing chain alone is mounted, never the key. */}}
- name: KINORA_C2PA_CERT_FILE
  value: /var/run/kinora/c2pa-trust/{{ $v.secrets.c2pa.certFile }}
{{- end }}
{{- if $w.c2pa }}
- name: KINORA_C2PA_KEY_FILE
  value: /var/run/kinora/c2pa/{{ $v.secrets.c2pa.keyFile }}
- name: KINORA_C2PA_CERT_FILE
  value: /var/run/kinora/c2pa/{{ $v.secrets.c2pa.certFile }}
{{- end }}
{{- if $w.jwtKeys }}
- name: KINORA_JWT_PRIVATE_KEYS_DIR
  value: /var/run/kinora/jwt
{{- end }}
{{- if eq $w.kind "worker" }}
{{- /* A worker claims jobs of its pool's models only and calls that pool's Triton. */}}
- name: KINORA_TRITON_ADDR
  value: {{ include "kinora.tritonAddr" (dict "root" $root "pool" $w.pool) | quote }}
- name: KINORA_WORKER_POOL
  value: {{ $w.pool | quote }}
{{- end }}
{{- if or (eq $w.kind "worker") (eq $w.name "generator") }}
{{- /* Public model names -> Triton models, and which pool serves which (services/generator/settings.py). */}}
- name: KINORA_GENERATOR_MODELS
  value: {{ $root.Values.generatorRouting.models | quote }}
- name: KINORA_GENERATOR_POOLS
  value: {{ $root.Values.generatorRouting.pools | quote }}
{{- end }}
{{- if and (eq $w.name "billing") $v.secrets.stripe.secretName }}
{{- /* Stripe's keys come from a Secret only; the chart holds no value for them. */}}
- name: KINORA_BILLING_STRIPE_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ $v.secrets.stripe.secretName }}, key: {{ $v.secrets.stripe.secretKeyKey }}}}
- name: KINORA_BILLING_STRIPE_WEBHOOK_SECRET
  valueFrom: {secretKeyRef: {name: {{ $v.secrets.stripe.secretName }}, key: {{ $v.secrets.stripe.webhookSecretKey }}}}
{{- with $v.secrets.stripe.proPrice }}
- name: KINORA_BILLING_STRIPE_PRO_PRICE
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- if eq $w.kind "modelServer" }}
- name: KINORA_POOL
  value: {{ $w.pool | quote }}
{{- end }}
{{- range $key := keys $w.env | sortAlpha }}
- name: {{ $key }}
  value: {{ index $w.env $key | toString | quote }}
{{- end }}
{{- end -}}

{{/* Probes: gRPC health for gRPC services (on the plaintext health port: kubelet presents
no client certificate), HTTP for the rest. */}}
{{- define "kinora.probes" -}}
{{- $root := .root -}}
{{- $w := .w -}}
{{- if has $w.kind (list "grpc" "worker") }}
startupProbe:
  grpc: {port: {{ $root.Values.ports.health }}}
  periodSeconds: 2
  failureThreshold: 60
readinessProbe:
  grpc: {port: {{ $root.Values.ports.health }}}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  grpc: {port: {{ $root.Values.ports.health }}}
  periodSeconds: 10
  failureThreshold: 3
{{- else if eq $w.kind "http" }}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  failureThreshold: 3
{{- else }}
startupProbe:
  httpGet: {path: /v2/health/ready, port: http}
  periodSeconds: {{ $w.startupProbe.periodSeconds }}
  failureThreshold: {{ $w.startupProbe.failureThreshold }}
readinessProbe:
  httpGet: {path: /v2/health/ready, port: http}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /v2/health/live, port: http}
  periodSeconds: 15
  failureThreshold: 4
{{- end }}
{{- end -}}

{{- define "kinora.ports" -}}
{{- $root := .root -}}
{{- $w := .w -}}
{{- if eq $w.kind "grpc" }}
- {name: grpc, containerPort: {{ $root.Values.ports.grpc }}, protocol: TCP}
- {name: health, containerPort: {{ $root.Values.ports.health }}, protocol: TCP}
{{- else if eq $w.kind "worker" }}
- {name: health, containerPort: {{ $root.Values.ports.health }}, protocol: TCP}
{{- else if eq $w.kind "http" }}
- {name: http, containerPort: {{ $root.Values.ports.http }}, protocol: TCP}
{{- else if eq $w.kind "modelServer" }}
- {name: grpc, containerPort: 8001, protocol: TCP}
- {name: http, containerPort: 8000, protocol: TCP}
{{- end }}
{{- if eq $w.kind "modelServer" }}
- {name: metrics, containerPort: 8002, protocol: TCP}
{{- else }}
- {name: metrics, containerPort: {{ $root.Values.ports.metrics }}, protocol: TCP}
{{- end }}
{{- end -}}
