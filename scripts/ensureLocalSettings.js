#!/usr/bin/env node
'use strict';
// Creates local.settings.json for `npm start` on first run: a fresh NODE_KEY_MASTER for this machine.
// The devhost sets AzureWebJobsStorage to its embedded Azurite. The file is git-ignored; it holds a secret.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const file = path.join(__dirname, '..', 'local.settings.json');
if (!fs.existsSync(file)) {
  const settings = {
    IsEncrypted: false,
    Values: {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      NODE_KEY_MASTER: crypto.randomBytes(32).toString('base64'),
      // The devhost emulates App Service Authentication (/.auth/login, users in .devhost/users.yaml).
      AUTH_TRUST_CLIENT_PRINCIPAL: 'true',
    },
  };
  fs.writeFileSync(file, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 });
  console.log('Created local.settings.json with a new NODE_KEY_MASTER for this machine.');
}
