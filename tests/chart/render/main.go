// render: renders a Helm chart offline the way `helm template` does, for the
// chart tests (helm itself cannot be installed on the test machines).
//
// It follows Helm 3's engine: Go text/template with missingkey=zero and the
// sprig function map (minus env/expandenv), Helm's own functions (include,
// tpl, required, toYaml/fromYaml/fromYamlArray, toJson/fromJson/fromJsonArray
// with sigs.k8s.io/yaml, as Helm uses), "<no value>" scrubbed from output,
// partials (_*) not rendered, values.yaml coalesced with the override files
// (a null override deletes the key), values decoded as JSON (numbers are
// float64, exactly as Helm decodes them), the coalesced values validated
// against values.schema.json before rendering, the chart's kubeVersion
// checked, and manifests split on "---" lines. Functions the chart must not
// use are left undefined (lookup, toToml, getHostByName): using one fails
// the parse, as it would fail the tests.
//
// Usage:
//
//	render -chart DIR [-f override.yaml]... [-name RELEASE] [-namespace NS]
//	       [-kube-version v1.31.0] [-api-versions monitoring.coreos.com/v1,...]
//	       -out DIR
//
// Writes DIR/manifest.yaml (as `helm template` prints it), DIR/objects.json
// ([{source, object}] for every document) and DIR/NOTES.txt. Exits 1 with
// Helm's error wording on a schema violation or template error.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

// chartMeta carries Chart.yaml under the Go field names templates use
// (.Chart.Name, .Chart.AppVersion, ...), like Helm's chart.Metadata.
type chartMeta struct {
	APIVersion   string            `json:"apiVersion"`
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Description  string            `json:"description,omitempty"`
	Type         string            `json:"type,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
}

type kubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k kubeVersion) String() string { return k.Version }

type apiVersions []string

// Has reports whether an API group/version (or group/version/Kind) is served.
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions apiVersions
	HelmVersion map[string]string
}

// files is .Files: the chart's files outside templates/ (Helm's chart.Files).
type files map[string][]byte

func (f files) Get(name string) string { return string(f[name]) }

func (f files) GetBytes(name string) []byte { return f[name] }

// Group/versions of a current Kubernetes release that the chart may test for.
var builtinAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
	"networking.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1",
	"coordination.k8s.io/v1", "apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1",
	"autoscaling/v2", "discovery.k8s.io/v1", "events.k8s.io/v1", "node.k8s.io/v1",
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	var overrides stringList
	flag.Var(&overrides, "f", "values override file (repeatable, later wins)")
	release := flag.String("name", "netring", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVer := flag.String("kube-version", "v1.31.0", "Kubernetes version of .Capabilities")
	extraAPIs := flag.String("api-versions", "", "extra API versions of .Capabilities, comma separated")
	out := flag.String("out", "", "output directory")
	flag.Parse()
	if *chartDir == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*chartDir, overrides, *release, *namespace, *kubeVer, *extraAPIs, *out); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run(chartDir string, overrides []string, release, namespace, kubeVer, extraAPIs, out string) error {
	meta, err := loadChart(chartDir)
	if err != nil {
		return err
	}
	caps, err := makeCapabilities(kubeVer, extraAPIs)
	if err != nil {
		return err
	}
	if meta.KubeVersion != "" {
		c, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			return fmt.Errorf("chart.metadata.kubeVersion %q is invalid: %w", meta.KubeVersion, err)
		}
		v := semver.MustParse(caps.KubeVersion.Version)
		if !c.Check(v) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
				meta.KubeVersion, caps.KubeVersion.Version)
		}
	}

	values, err := readValues(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	user := map[string]interface{}{}
	for _, f := range overrides {
		v, err := readValues(f)
		if err != nil {
			return err
		}
		// Later -f files win over earlier ones; both are user values.
		user = mergeMaps(user, v)
	}
	values = coalesce(user, values)

	if schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json")); err == nil {
		if err := validateValues(values, schema); err != nil {
			return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s",
				meta.Name, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	tpls, chartFiles, err := loadTemplates(chartDir, meta.Name)
	if err != nil {
		return err
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart":        meta,
		"Capabilities": caps,
		"Files":        chartFiles,
	}
	rendered, err := renderAll(tpls, top, meta.Name)
	if err != nil {
		return err
	}
	return writeOutput(rendered, meta.Name, out)
}

func loadChart(dir string) (*chartMeta, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var m chartMeta
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	if m.APIVersion != "v2" || m.Name == "" || m.Version == "" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion v2, name and version are required")
	}
	if _, err := semver.NewVersion(m.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not SemVer 2: %w", m.Version, err)
	}
	return &m, nil
}

func makeCapabilities(kubeVer, extra string) (capabilities, error) {
	v, err := semver.NewVersion(kubeVer)
	if err != nil {
		return capabilities{}, fmt.Errorf("-kube-version %q: %w", kubeVer, err)
	}
	apis := append(apiVersions{}, builtinAPIVersions...)
	for _, a := range strings.Split(extra, ",") {
		if a != "" {
			apis = append(apis, a)
		}
	}
	return capabilities{
		KubeVersion: kubeVersion{
			Version: "v" + v.String(), Major: fmt.Sprint(v.Major()), Minor: fmt.Sprint(v.Minor()),
			GitVersion: "v" + v.String(),
		},
		APIVersions: apis,
		HelmVersion: map[string]string{"Version": "v3"},
	}, nil
}

// readValues decodes a values file as Helm does: YAML converted to JSON, so
// numbers become float64 and keys strings.
func readValues(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	v := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("failed to parse %s: %w", file, err)
	}
	if v == nil {
		v = map[string]interface{}{}
	}
	return v, nil
}

// mergeMaps merges src into dst, src winning, maps merged key by key (how
// Helm merges several -f files).
func mergeMaps(dst, src map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(dst))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sv, ok := v.(map[string]interface{}); ok {
			if dv, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(dv, sv)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce fills the user's values with the chart's defaults: user values
// win, maps are coalesced key by key, and a user null deletes the default.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(user))
	for k, v := range user {
		out[k] = v
	}
	for k, dv := range defaults {
		uv, present := out[k]
		switch {
		case !present:
			out[k] = dv
		case uv == nil:
			delete(out, k)
		default:
			um, uok := uv.(map[string]interface{})
			dm, dok := dv.(map[string]interface{})
			if uok && dok {
				out[k] = coalesce(um, dm)
			} else if uok != dok && dv != nil {
				fmt.Fprintf(os.Stderr, "warning: cannot overwrite table with non table for %s (%v)\n", k, dv)
			}
		}
	}
	// Nulls the user set for keys without a default vanish too.
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	return out
}

// validateValues checks the coalesced values against values.schema.json
// with gojsonschema (the validator Helm 3 uses), listing every violation.
func validateValues(values map[string]interface{}, schema []byte) error {
	doc, err := json.Marshal(values)
	if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	if res.Valid() {
		return nil
	}
	var sb strings.Builder
	for _, e := range res.Errors() {
		fmt.Fprintf(&sb, "- %s\n", e)
	}
	return errors.New(sb.String())
}

// loadTemplates reads templates/ (every file, named <chart>/templates/<path>)
// and the other chart files that .Files serves.
func loadTemplates(dir, chartName string) (map[string]string, files, error) {
	tpls := map[string]string{}
	other := files{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			tpls[path.Join(chartName, rel)] = string(data)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" || rel == ".helmignore":
		default:
			other[rel] = data
		}
		return nil
	})
	return tpls, other, err
}

const errStart, errEnd = "HELM_ERR_START", "HELM_ERR_END"

var errWrapped = regexp.MustCompile(errStart + `(.*)` + errEnd)

// funcMap is sprig's text function map without env/expandenv, plus Helm's
// functions; include and tpl are bound per template set.
func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(errStart + msg + errEnd)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(errStart + msg + errEnd)
		}
		return v, nil
	}
	// Placeholders so the parse knows them; bound in newSet.
	f["include"] = func(string, interface{}) (string, error) { return "", nil }
	f["tpl"] = func(string, interface{}) (string, error) { return "", nil }
	return f
}

// sortedNames orders templates as Helm parses them: deeper paths first,
// then lexically (it decides which duplicate "define" wins).
func sortedNames(tpls map[string]string) []string {
	names := make([]string, 0, len(tpls))
	for n := range tpls {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ci, cj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if ci != cj {
			return ci > cj
		}
		return names[i] > names[j]
	})
	return names
}

// newSet parses the templates into one set with include/tpl bound to it.
// first, if set, is parsed before the others and keeps its name (tpl).
func newSet(tpls map[string]string, firstName, firstText string) (*template.Template, error) {
	t := template.New("gotpl").Option("missingkey=zero")
	fm := funcMap()
	depth := map[string]int{}
	fm["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > 1000 {
			return "", fmt.Errorf("unable to execute template: rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	fm["tpl"] = func(text string, vals map[string]interface{}) (string, error) {
		tmeta, _ := vals["Template"].(map[string]interface{})
		name, _ := tmeta["Name"].(string)
		if name == "" {
			return "", fmt.Errorf("cannot retrieve Template.Name from values inside tpl function: %s", text)
		}
		sub, err := newSet(tpls, name, text)
		if err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		var buf strings.Builder
		if err := sub.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	t.Funcs(fm)
	if firstName != "" {
		if _, err := t.New(firstName).Parse(firstText); err != nil {
			return nil, parseError(err)
		}
	}
	for _, name := range sortedNames(tpls) {
		if t.Lookup(name) != nil {
			continue
		}
		if _, err := t.New(name).Parse(tpls[name]); err != nil {
			return nil, parseError(err)
		}
	}
	return t, nil
}

func parseError(err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) < 3 {
		return fmt.Errorf("parse error: %w", err)
	}
	return fmt.Errorf("parse error at (%s): %s", tokens[1], tokens[len(tokens)-1])
}

func execError(name string, err error) error {
	var ee template.ExecError
	if !errors.As(err, &ee) {
		return err
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %w", name, err)
	}
	if m := errWrapped.FindStringSubmatch(tokens[2]); len(m) >= 2 {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], m[1])
	}
	return err
}

// renderAll executes every template that is not a partial.
func renderAll(tpls map[string]string, top map[string]interface{}, chartName string) (map[string]string, error) {
	t, err := newSet(tpls, "", "")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range sortedNames(tpls) {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(chartName, "templates")}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			return nil, execError(name, err)
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

var docSep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

type object struct {
	Source string                 `json:"source"`
	Object map[string]interface{} `json:"object"`
}

// writeOutput splits the manifests into documents, checks each is one
// Kubernetes object, and writes manifest.yaml, objects.json and NOTES.txt.
func writeOutput(rendered map[string]string, chartName, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	var manifest bytes.Buffer
	objects := []object{}
	notes := ""
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			if name == path.Join(chartName, "templates", "NOTES.txt") {
				notes = rendered[name]
			}
			continue
		}
		for _, doc := range docSep.Split(rendered[name], -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var obj map[string]interface{}
			// Strict: a duplicate key is a chart bug the API server would
			// reject or silently resolve.
			if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
				return fmt.Errorf("YAML parse error on %s: %w\n%s", name, err, doc)
			}
			if obj == nil {
				continue // a document of comments only
			}
			if obj["apiVersion"] == nil || obj["kind"] == nil {
				return fmt.Errorf("%s: object without apiVersion/kind:\n%s", name, doc)
			}
			fmt.Fprintf(&manifest, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(doc))
			objects = append(objects, object{Source: name, Object: obj})
		}
	}
	data, err := json.MarshalIndent(objects, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "objects.json"), data, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "manifest.yaml"), manifest.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "NOTES.txt"), []byte(notes), 0o644)
}
