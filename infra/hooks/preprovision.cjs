#!/usr/bin/env node
'use strict';
// azd preprovision hook: stops before anything is created when a setting the deployment needs is missing.
// azd passes the environment's values (azd env set …) as environment variables.
const problems = [];
const env = process.env;

if (!env.AZURE_WITNESS_LOCATION) {
  problems.push(
    'AZURE_WITNESS_LOCATION is not set: the witness storage account belongs in a third region ' +
      '(azd env set AZURE_WITNESS_LOCATION <region>)',
  );
} else if (env.AZURE_LOCATION && env.AZURE_WITNESS_LOCATION === env.AZURE_LOCATION) {
  problems.push('AZURE_WITNESS_LOCATION equals AZURE_LOCATION: put the witness in a third region');
}

const backend = env.DURABLE_BACKEND || 'scheduler';
if (backend !== 'scheduler' && backend !== 'storage') {
  problems.push('DURABLE_BACKEND must be scheduler or storage');
}

// NODE_KEY_MASTER is written to Key Vault on the first provision. Afterwards (AZURE_KEY_VAULT_NAME is an output of a
// previous provision) it may be removed from the azd environment: the stored secret is kept.
const master = env.NODE_KEY_MASTER || '';
if (!master && !env.AZURE_KEY_VAULT_NAME) {
  problems.push(
    'NODE_KEY_MASTER is not set for the first provision: azd env set NODE_KEY_MASTER "$(openssl rand -base64 48)"',
  );
} else if (master && (!/^[A-Za-z0-9+/]+={0,2}$/.test(master) || Buffer.from(master, 'base64').length < 32)) {
  problems.push('NODE_KEY_MASTER must be base64 of at least 32 bytes (openssl rand -base64 48)');
}

if (env.PROTECTED_RESOURCE_GROUP_IDS) {
  let ids;
  try {
    ids = JSON.parse(env.PROTECTED_RESOURCE_GROUP_IDS);
  } catch {
    ids = undefined;
  }
  const shape = /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+$/i;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && shape.test(id))) {
    problems.push(
      'PROTECTED_RESOURCE_GROUP_IDS must be a JSON array of resource group ids ' +
        '(["/subscriptions/<id>/resourceGroups/<name>"])',
    );
  }
}

if (problems.length > 0) {
  // Names of settings only, never their values.
  console.error(`Cannot provision:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
