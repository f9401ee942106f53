{{/* The chart's name, or nameOverride. */}}
{{- define "clawport.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the Service, the Deployment and the DaemonSet's prefix. */}}
{{- define "clawport.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "clawport.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "clawport.labels" -}}
helm.sh/chart: {{ include "clawport.chart" . }}
{{ include "clawport.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "clawport.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clawport.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "clawport.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "clawport.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "clawport.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the chart creates for the values given inline. */}}
{{- define "clawport.secretName" -}}
{{- include "clawport.fullname" . }}
{{- end }}

{{/*
The three secrets, each {env, inline value, existing Secret, key, what to set}; one list so the
Secret and every secretKeyRef agree.
*/}}
{{- define "clawport.secrets" -}}
- env: CLAWPORT_DATABASE_URL
  value: {{ .Values.database.url | quote }}
  existingSecret: {{ .Values.database.existingSecret | quote }}
  key: {{ .Values.database.existingSecretKey | quote }}
  values: database.url or database.existingSecret
- env: CLAWPORT_SECRET_KEY
  value: {{ .Values.secretKey.value | quote }}
  existingSecret: {{ .Values.secretKey.existingSecret | quote }}
  key: {{ .Values.secretKey.existingSecretKey | quote }}
  values: secretKey.value or secretKey.existingSecret
- env: CLAWPORT_RUNNER_TOKEN
  value: {{ .Values.runnerToken.value | quote }}
  existingSecret: {{ .Values.runnerToken.existingSecret | quote }}
  key: {{ .Values.runnerToken.existingSecretKey | quote }}
  values: runnerToken.value or runnerToken.existingSecret
{{- end }}

{{/* The key of an inline value in the chart's Secret. */}}
{{- define "clawport.inlineKey" -}}
{{- . | lower | trimPrefix "clawport_" | replace "_" "-" }}
{{- end }}

{{/*
An env entry reading one secret, from its existing Secret or the chart's: call with
(dict "root" $ "env" "CLAWPORT_...").
*/}}
{{- define "clawport.secretEnv" -}}
{{- $root := .root }}
{{- range (include "clawport.secrets" $root | fromYamlArray) }}
{{- if eq .env $.env }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
{{- if .existingSecret }}
      name: {{ .existingSecret }}
      key: {{ .key }}
{{- else if .value }}
      name: {{ include "clawport.secretName" $root }}
      key: {{ include "clawport.inlineKey" .env }}
{{- else }}
{{- fail (printf "%s is required: set %s" .env .values) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Fails with a readable message on values the server would refuse at start. */}}
{{- define "clawport.checkValues" -}}
{{- with .Values.database.url }}
{{- if and (not $.Values.database.existingSecret) (not (regexMatch "^postgres(ql)?://" .)) }}
{{- fail "database.url must be a postgres:// or postgresql:// URL" }}
{{- end }}
{{- end }}
{{- with .Values.secretKey.value }}
{{- if and (not $.Values.secretKey.existingSecret) (not (regexMatch "^[A-Za-z0-9+/]{43}=?$" .)) }}
{{- fail "secretKey.value must be 32 bytes in base64 (openssl rand -base64 32)" }}
{{- end }}
{{- end }}
{{- with .Values.runnerToken.value }}
{{- if and (not $.Values.runnerToken.existingSecret) (lt (len .) 32) }}
{{- fail "runnerToken.value must be at least 32 characters (openssl rand -hex 32)" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The control plane's public address: publicUrl, else the Ingress's first host. */}}
{{- define "clawport.publicUrl" -}}
{{- if .Values.controlPlane.publicUrl }}
{{- .Values.controlPlane.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.ingress.tls) 0)) $host }}
{{- end }}
{{- end }}

{{/* The proxies the control plane believes: trustProxy, else the private ranges behind an Ingress. */}}
{{- define "clawport.trustProxy" -}}
{{- if .Values.controlPlane.trustProxy }}
{{- .Values.controlPlane.trustProxy }}
{{- else if .Values.ingress.enabled }}
{{- "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16" }}
{{- end }}
{{- end }}

{{/* Where runners reach the control plane. */}}
{{- define "clawport.serverUrl" -}}
{{- default (printf "http://%s:%v" (include "clawport.fullname" .) .Values.controlPlane.service.port) .Values.runner.server }}
{{- end }}

{{/* runner.labels as CLAWPORT_RUNNER_LABELS: k=v pairs joined with commas, in key order. */}}
{{- define "clawport.runnerLabels" -}}
{{- $pairs := list }}
{{- range $k, $v := . }}
{{- $pairs = append $pairs (printf "%s=%v" $k $v) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
