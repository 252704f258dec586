{{/* Name of the chart, overridable. */}}
{{- define "netring.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects: <release>-netring unless the release name contains it. */}}
{{- define "netring.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "netring.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the agent's pods: never change them in an upgrade (a DaemonSet selector is immutable). */}}
{{- define "netring.selectorLabels" -}}
app.kubernetes.io/name: {{ include "netring.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "netring.labels" -}}
helm.sh/chart: {{ include "netring.chart" . }}
{{ include "netring.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: netring
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "netring.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "netring.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "netring.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Port of config.metricsListen ("host:port", "[v6]:port"). */}}
{{- define "netring.metricsPort" -}}
{{- regexReplaceAll "^.*:" .Values.config.metricsListen "" -}}
{{- end -}}

{{- define "netring.apiPort" -}}
{{- regexReplaceAll "^.*:" .Values.config.apiListen "" -}}
{{- end -}}

{{/*
The agent's command line as a YAML list: one --flag=value per config value.
Numbers go through int64: values are decoded as JSON numbers (float64), which
would print 1000000 as 1e+06. Empty strings and lists are left out (the
agent's default applies), except tunnel-ports, whose empty list means "none".
toYaml quotes what YAML would otherwise misread (regexes, colons).
*/}}
{{- define "netring.args" -}}
{{- $c := .Values.config -}}
{{- $a := list -}}
{{- if $c.file }}{{ $a = append $a (printf "--config=%s" $c.file) }}{{ end -}}
{{- if $c.nodeName }}{{ $a = append $a (printf "--node-name=%s" $c.nodeName) }}{{ end -}}
{{- $a = append $a (printf "--sample-rate=%d" (int64 $c.sampleRate)) -}}
{{- $a = append $a (printf "--copy-budget=%d" (int64 $c.copyBudget)) -}}
{{- $a = append $a (printf "--exact-flows=%s" $c.exactFlows) -}}
{{- $a = append $a (printf "--drops=%s" $c.drops) -}}
{{- $a = append $a (printf "--tcp-retransmits=%s" $c.tcpRetransmits) -}}
{{- $a = append $a (printf "--backend=%s" $c.backend) -}}
{{- $a = append $a (printf "--workers=%d" (int64 $c.workers)) -}}
{{- $a = append $a (printf "--snap-len=%d" (int64 $c.snapLen)) -}}
{{- if $c.interfacesInclude }}{{ $a = append $a (printf "--interfaces-include=%s" $c.interfacesInclude) }}{{ end -}}
{{- if $c.interfacesExclude }}{{ $a = append $a (printf "--interfaces-exclude=%s" $c.interfacesExclude) }}{{ end -}}
{{- if $c.physicalInterfaces }}{{ $a = append $a (printf "--physical-interfaces=%s" (join "," $c.physicalInterfaces)) }}{{ end -}}
{{- if $c.capturePorts }}{{ $a = append $a (printf "--capture-ports=%s" (join "," $c.capturePorts)) }}{{ end -}}
{{- $a = append $a (printf "--capture-sample-rate=%d" (int64 $c.captureSampleRate)) -}}
{{- $a = append $a (printf "--capture-xdp-mode=%s" $c.captureXdpMode) -}}
{{- $ports := list -}}
{{- range $c.tunnelPorts }}{{ $ports = append $ports (int64 .) }}{{ end -}}
{{- $a = append $a (printf "--tunnel-ports=%s" (join "," $ports)) -}}
{{- $a = append $a (printf "--dns=%s" $c.dns) -}}
{{- $dnsPorts := list -}}
{{- range $c.dnsPorts }}{{ $dnsPorts = append $dnsPorts (int64 .) }}{{ end -}}
{{- $a = append $a (printf "--dns-ports=%s" (join "," $dnsPorts)) -}}
{{- $a = append $a (printf "--dns-timeout=%s" $c.dnsTimeout) -}}
{{- $a = append $a (printf "--dns-qname-label=%s" $c.dnsQnameLabel) -}}
{{- $a = append $a (printf "--tcp-handshake=%s" $c.tcpHandshake) -}}
{{- $a = append $a (printf "--label-level=%s" $c.labelLevel) -}}
{{- $a = append $a (printf "--flow-table-size=%d" (int64 $c.flowTableSize)) -}}
{{- $a = append $a (printf "--flow-idle-timeout=%s" $c.flowIdleTimeout) -}}
{{- $a = append $a (printf "--flow-active-timeout=%s" $c.flowActiveTimeout) -}}
{{- $a = append $a (printf "--metrics-listen=%s" $c.metricsListen) -}}
{{- $a = append $a (printf "--api-listen=%s" $c.apiListen) -}}
{{- $a = append $a (printf "--max-series=%d" (int64 $c.maxSeries)) -}}
{{- $a = append $a (printf "--pod-grace-period=%s" $c.podGracePeriod) -}}
{{- $a = append $a (printf "--enable-capture-api=%t" $c.enableCaptureApi) -}}
{{- $a = append $a (printf "--capture-max-duration=%s" $c.captureMaxDuration) -}}
{{- $a = append $a (printf "--capture-max-packets=%d" (int64 $c.captureMaxPackets)) -}}
{{- with $c.ipfix }}{{ if .collector -}}
{{- $a = append $a (printf "--ipfix-collector=%s" .collector) -}}
{{- $a = append $a (printf "--ipfix-transport=%s" .transport) -}}
{{- $a = append $a (printf "--ipfix-template-refresh=%s" .templateRefresh) -}}
{{- $a = append $a (printf "--ipfix-template-refresh-messages=%d" (int64 .templateRefreshMessages)) -}}
{{- $a = append $a (printf "--ipfix-active-interval=%s" .activeInterval) -}}
{{- $a = append $a (printf "--ipfix-observation-domain=%d" (int64 .observationDomain)) -}}
{{- $a = append $a (printf "--ipfix-enterprise-number=%d" (int64 .enterpriseNumber)) -}}
{{- $a = append $a (printf "--ipfix-fields=%s" (join "," .fields)) -}}
{{- $a = append $a (printf "--ipfix-queue-size=%d" (int64 .queueSize)) -}}
{{- $a = append $a (printf "--ipfix-max-message-size=%d" (int64 .maxMessageSize)) -}}
{{- end }}{{ end -}}
{{- if $c.kubeconfig }}{{ $a = append $a (printf "--kubeconfig=%s" $c.kubeconfig) }}{{ end -}}
{{- $a = append $a (printf "--kube-api=%s" $c.kubeApi) -}}
{{- if $c.podsFrom }}{{ $a = append $a (printf "--pods-from=%s" $c.podsFrom) }}{{ end -}}
{{- $a = append $a (printf "--kube-pods=%s" $c.kubePods) -}}
{{- $a = append $a (printf "--kube-lookup-ttl=%s" $c.kubeLookupTtl) -}}
{{- $a = append $a (printf "--kube-lookup-negative-ttl=%s" $c.kubeLookupNegativeTtl) -}}
{{- $a = append $a (printf "--kube-lookup-rate=%d" (int64 $c.kubeLookupRate)) -}}
{{- $a = append $a (printf "--log-level=%s" $c.logLevel) -}}
{{- $a = append $a (printf "--log-format=%s" $c.logFormat) -}}
{{- range .Values.extraArgs }}{{ $a = append $a (toString .) }}{{ end -}}
{{- toYaml $a -}}
{{- end -}}
