// Bundles GraphiQL, React and Monaco's workers into ../assets, gzipped,
// for the server to embed. Run by `go generate ./playground`, after
// `npm ci`, which installs the versions package-lock.json pins and checks
// each package against its integrity hash.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const out = new URL('../assets/', import.meta.url).pathname;
const tmp = new URL('./dist/', import.meta.url).pathname;
rmSync(tmp, { recursive: true, force: true });

const common = { bundle: true, format: 'esm', minify: true, outdir: tmp, entryNames: '[name]', logLevel: 'warning', legalComments: 'linked' };
await build({ ...common, entryPoints: ['src/main.jsx'], loader: { '.ttf': 'file' }, assetNames: '[name]', define: { 'process.env.NODE_ENV': '"production"' } });
await build({
  ...common,
  entryPoints: {
    'editor.worker': 'node_modules/monaco-editor/esm/vs/editor/editor.worker.js',
    'json.worker': 'node_modules/monaco-editor/esm/vs/language/json/json.worker.js',
    'graphql.worker': 'node_modules/monaco-graphql/esm/graphql.worker.js',
  },
});

rmSync(out, { recursive: true, force: true });
mkdirSync(out);
for (const name of readdirSync(tmp)) {
  // Text compresses by four to five times; the server sends it gzipped as
  // it is stored, and unzips it only for a client that cannot take gzip.
  writeFileSync(join(out, name + '.gz'), gzipSync(readFileSync(join(tmp, name)), { level: 9 }));
}
rmSync(tmp, { recursive: true, force: true });
