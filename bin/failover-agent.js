#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'agent', 'cli.js');
if (!fs.existsSync(entry)) {
  console.error('failover-agent is not built: run "npm run build" first');
  process.exit(1);
}
require(entry)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error) => {
    console.error(`failover-agent: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
