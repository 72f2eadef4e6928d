// Node: a tile server's render loop on cairo through a native addon (workloads/README.md).
// leak mode: renderTile uses paintLeaky, whose cairo pattern is never destroyed (the node-canvas
// createPattern leak); clean mode does the same drawing and releases it.
'use strict';
const pattern = require('imgleak-pattern/pattern.node');

function renderTile(i, leak) {
  const size = 8 + (i % 4) * 4;
  return leak ? pattern.paintLeaky(size) : pattern.paint(size);
}

function serve(iterations, leak) {
  let total = 0;
  for (let i = 0; i < iterations; i++) total += renderTile(i, leak);
  return total;
}

const mode = process.argv[2] || 'leak';
const at = process.argv.indexOf('--iterations');
const iterations = at > 0 ? Number(process.argv[at + 1]) : 20;
const total = serve(iterations, mode === 'leak');
require('fs').writeSync(1, `wl_canvas ${mode}: ${iterations} tiles, checksum ${total}\n`);
