// Validates rendered Kubernetes objects against the API schemas of a current
// Kubernetes release (npm kubernetes-models: generated from the release's
// OpenAPI document) and the Prometheus Operator's CRDs.
//
//   node validate.mjs objects.json        (objects.json from tests/chart/render)
//
// Two checks per object:
// 1. the schema validator of its apiVersion/kind: types, required fields,
//    enums, formats (kubernetes-models' validate());
// 2. unknown fields, which the API server rejects under strict field
//    validation (kubectl's default) but those generated validators let
//    through: every key is looked up in the model's TypeScript declaration
//    (resolved with the TypeScript compiler's type checker), so a field
//    indented one level too deep or misspelt is reported with its path.
// Exits 1 listing every problem; prints one line per valid object.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import ts from "typescript";

const require = createRequire(import.meta.url);

// apiVersion -> module directory of its models.
const groups = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
  "scheduling.k8s.io/v1": "kubernetes-models/scheduling.k8s.io/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

function declarationFile(mod, kind) {
  const pkgRoot = mod.startsWith("@") ? mod.split("/").slice(0, 2).join("/") : mod.split("/")[0];
  const rel = mod.slice(pkgRoot.length + 1);
  const root = path.dirname(require.resolve(`${pkgRoot}/package.json`));
  return path.join(root, rel, `${kind}.d.ts`);
}

function typeChecker(files) {
  const program = ts.createProgram(files, {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  });
  return { program, checker: program.getTypeChecker() };
}

function interfaceType(program, checker, file, name) {
  const sf = program.getSourceFile(file);
  if (!sf) throw new Error(`cannot load ${file}`);
  const sym = checker.getSymbolAtLocation(sf);
  const exp = sym && checker.getExportsOfModule(sym).find((s) => s.name === name);
  if (!exp) throw new Error(`${file} declares no ${name}`);
  return checker.getDeclaredTypeOfSymbol(exp);
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// Reports keys of value that type does not declare, recursively.
function unknownFields(checker, value, type, where, problems) {
  if (type.isUnion()) {
    const members = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
    // Object-valued member for objects, array member for arrays; a union of
    // primitives (IntOrString, Quantity) has nothing to look into.
    const pick = members.find((t) =>
      Array.isArray(value) ? checker.isArrayType(t) : isPlainObject(value) && t.flags & ts.TypeFlags.Object,
    );
    if (!pick) return;
    type = pick;
  }
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
  if (Array.isArray(value)) {
    if (!checker.isArrayType(type)) return; // type errors are check 1's
    const elem = checker.getTypeArguments(type)[0];
    value.forEach((v, i) => unknownFields(checker, v, elem, `${where}[${i}]`, problems));
    return;
  }
  if (!isPlainObject(value) || !(type.flags & ts.TypeFlags.Object)) return;
  const index = checker.getIndexTypeOfType(type, ts.IndexKind.String);
  const props = checker.getPropertiesOfType(type);
  if (props.length === 0 && !index) return; // free-form object (RawExtension, JSON)
  for (const [k, v] of Object.entries(value)) {
    const prop = type.getProperty(k);
    if (prop) {
      const decl = prop.valueDeclaration ?? prop.declarations?.[0];
      unknownFields(checker, v, checker.getTypeOfSymbolAtLocation(prop, decl), `${where}.${k}`, problems);
    } else if (index) {
      unknownFields(checker, v, index, `${where}.${k}`, problems);
    } else {
      problems.push(`${where}.${k}: unknown field`);
    }
  }
}

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node validate.mjs objects.json");
    process.exit(2);
  }
  const objects = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!Array.isArray(objects) || objects.length === 0) {
    console.error(`${file}: no objects to validate`);
    process.exit(1);
  }
  const jobs = objects.map(({ source, object }) => {
    const mod = groups[object.apiVersion];
    return { source, object, mod, dts: mod && declarationFile(mod, object.kind) };
  });
  const { program, checker } = typeChecker(jobs.filter((j) => j.dts && fs.existsSync(j.dts)).map((j) => j.dts));
  let failed = 0;
  for (const { source, object, mod, dts } of jobs) {
    const id = `${source}: ${object.apiVersion} ${object.kind} ${object.metadata?.name ?? "?"}`;
    const problems = [];
    if (!mod || !fs.existsSync(dts)) {
      problems.push(`no schema for ${object.apiVersion} ${object.kind}`);
    } else {
      const Model = (await import(`${mod}/${object.kind}`))[object.kind];
      try {
        new Model(object).validate();
      } catch (e) {
        for (const err of e.errors ?? [{ instancePath: "", message: e.message }]) {
          problems.push(`${err.instancePath || "/"}: ${err.message}${err.params ? " " + JSON.stringify(err.params) : ""}`);
        }
      }
      unknownFields(checker, object, interfaceType(program, checker, dts, `I${object.kind}`), "", problems);
    }
    if (problems.length) {
      failed++;
      console.log(`INVALID ${id}`);
      for (const p of problems) console.log(`  ${p}`);
    } else {
      console.log(`valid   ${id}`);
    }
  }
  if (failed) {
    console.log(`${failed} of ${objects.length} objects invalid`);
    process.exit(1);
  }
}

await main();
