// Fails when core/clientjs/wsevents.js is not what the build makes from the
// current sources: someone changed jsclient/src and did not run `npm run build`.
// CI runs this, as the Go module embeds that file.

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { buildScriptBundle, coreCopy, root } from './build.mjs';

const want = await buildScriptBundle();
let have = '';
try {
  have = readFileSync(coreCopy, 'utf8');
} catch {
  // A missing copy is reported as stale below.
}
const where = relative(root, coreCopy);
if (have !== want) {
  console.error(`${where} is stale: run "npm run build" in jsclient/ and commit the result.`);
  process.exit(1);
}
console.log(`${where} is up to date.`);
