#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'devhost', 'cli.js');
if (!fs.existsSync(entry)) {
  console.error('devhost is not built: run "npm run build" first');
  process.exit(1);
}
require(entry)
  .main(process.argv.slice(2))
  .catch((error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
