package main

// The renderer against Helm 3's documented behaviour, on a small chart made
// per test: the chart tests trust it only as far as it renders like Helm.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["Chart.yaml"] = "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\nkubeVersion: \">=1.24.0-0\"\n"
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func renderChart(t *testing.T, dir string, overrides ...string) (map[string]interface{}, string, error) {
	t.Helper()
	var files []string
	for i, o := range overrides {
		f := filepath.Join(t.TempDir(), "override"+string(rune('a'+i))+".yaml")
		if err := os.WriteFile(f, []byte(o), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out := t.TempDir()
	if err := run(dir, files, "rel", "ns", "v1.31.0", "", out); err != nil {
		return nil, "", err
	}
	var objs []object
	data, _ := os.ReadFile(filepath.Join(out, "objects.json"))
	if err := json.Unmarshal(data, &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("want one object, got %d", len(objs))
	}
	notes, _ := os.ReadFile(filepath.Join(out, "NOTES.txt"))
	return objs[0].Object, string(notes), nil
}

func data(obj map[string]interface{}) map[string]interface{} {
	d, _ := obj["data"].(map[string]interface{})
	return d
}

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n"

func TestValuesAreJSONNumbersAndMissingKeysRenderEmpty(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml": "big: 1000000\nsmall: 42\nword: on\n",
		"templates/cm.yaml": cm + "  big: {{ .Values.big | quote }}\n  bigInt: {{ int64 .Values.big | quote }}\n" +
			"  small: {{ .Values.small | quote }}\n  missing: \"{{ .Values.nothere }}\"\n" +
			"  word: {{ .Values.word | quote }}\n" +
			"  kube: {{ .Capabilities.KubeVersion.Minor | quote }}\n  app: {{ .Chart.AppVersion | quote }}\n",
	})
	obj, _, err := renderChart(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// Helm decodes values as JSON: 1000000 is a float64 and prints as 1e+06.
	// Values are YAML 1.1 (sigs.k8s.io/yaml): a bare on is a boolean.
	want := map[string]interface{}{"big": "1e+06", "bigInt": "1000000", "small": "42", "missing": "", "word": "true",
		"kube": "31", "app": "4.5"}
	for k, v := range want {
		if data(obj)[k] != v {
			t.Errorf("%s = %q, want %q", k, data(obj)[k], v)
		}
	}
	if obj["metadata"].(map[string]interface{})["name"] != "rel-demo" {
		t.Errorf("name %v", obj["metadata"])
	}
}

func TestOverridesCoalesceAndNullDeletes(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml": "m:\n  a: 1\n  b: 2\n  c: {x: 1}\nl: [1, 2]\n",
		"templates/cm.yaml": cm + "  m: {{ toJson .Values.m | quote }}\n  l: {{ toJson .Values.l | quote }}\n",
	})
	obj, _, err := renderChart(t, dir, "m:\n  b: 3\n  c: null\nl: [9]\n", "m:\n  d: 4\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := data(obj)["m"]; got != `{"a":1,"b":3,"d":4}` {
		t.Errorf("m = %v", got)
	}
	// Lists are replaced, not merged.
	if got := data(obj)["l"]; got != `[9]` {
		t.Errorf("l = %v", got)
	}
}

func TestIncludeTplToYamlNindent(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml": "name: web\ngreeting: \"hello {{ .Values.name }}\"\nlabels: {b: \"2\", a: \"1\"}\n",
		"templates/_h.tpl": `{{- define "demo.labels" -}}` + "\n" + `{{ toYaml .Values.labels }}` + "\n" + `{{- end -}}`,
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n" +
			"    {{- include \"demo.labels\" . | nindent 4 }}\ndata:\n  greeting: {{ tpl .Values.greeting . | quote }}\n" +
			"  tmpl: {{ .Template.Name | quote }}\n",
		"templates/NOTES.txt": "notes for {{ .Release.Name }}\n",
	})
	obj, notes, err := renderChart(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	labels := obj["metadata"].(map[string]interface{})["labels"].(map[string]interface{})
	if labels["a"] != "1" || labels["b"] != "2" {
		t.Errorf("labels %v", labels)
	}
	if data(obj)["greeting"] != "hello web" || data(obj)["tmpl"] != "demo/templates/cm.yaml" {
		t.Errorf("data %v", data(obj))
	}
	if notes != "notes for rel\n" {
		t.Errorf("notes %q", notes)
	}
}

func TestRequiredAndFailReportHelmsError(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml":       "name: \"\"\n",
		"templates/cm.yaml": cm + "  name: {{ required \"name is required\" .Values.name }}\n",
	})
	_, _, err := renderChart(t, dir)
	if err == nil || !strings.HasPrefix(err.Error(), "execution error at (demo/templates/cm.yaml:") ||
		!strings.HasSuffix(err.Error(), ": name is required") {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := renderChart(t, dir, "name: set\n"); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaAndKubeVersionAreEnforced(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml":        "num: 1\n",
		"values.schema.json": `{"type":"object","properties":{"num":{"type":"integer","maximum":5}}}`,
		"templates/cm.yaml":  cm,
	})
	_, _, err := renderChart(t, dir, "num: 6\n")
	if err == nil || !strings.Contains(err.Error(), "values don't meet the specifications") ||
		!strings.Contains(err.Error(), "- num: Must be less than or equal to 5") {
		t.Fatalf("err = %v", err)
	}
	if err := run(dir, nil, "rel", "ns", "v1.20.0", "", t.TempDir()); err == nil ||
		!strings.Contains(err.Error(), "incompatible with Kubernetes v1.20.0") {
		t.Fatalf("kubeVersion: err = %v", err)
	}
}

func TestFunctionsHelmLacksAreUndefined(t *testing.T) {
	for _, fn := range []string{`lookup "v1" "Pod" "" ""`, `env "HOME"`} {
		dir := writeChart(t, map[string]string{
			"values.yaml":       "",
			"templates/cm.yaml": cm + "  x: {{ " + fn + " }}\n",
		})
		if _, _, err := renderChart(t, dir); err == nil || !strings.Contains(err.Error(), "not defined") {
			t.Errorf("%s: err = %v", fn, err)
		}
	}
}

func TestDuplicateKeysAndMissingKindAreErrors(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml":       "",
		"templates/cm.yaml": cm + "  a: \"1\"\n  a: \"2\"\n",
	})
	if _, _, err := renderChart(t, dir); err == nil || !strings.Contains(err.Error(), "YAML parse error") {
		t.Errorf("duplicate key: err = %v", err)
	}
	dir = writeChart(t, map[string]string{
		"values.yaml":       "",
		"templates/cm.yaml": "metadata:\n  name: x\n",
	})
	if _, _, err := renderChart(t, dir); err == nil || !strings.Contains(err.Error(), "without apiVersion/kind") {
		t.Errorf("missing kind: err = %v", err)
	}
}
