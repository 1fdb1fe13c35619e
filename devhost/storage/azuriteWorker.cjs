'use strict';
// Runs Azurite's Blob, Queue and Table servers in a worker thread (see startAzurite.ts): storage gets its own core
// instead of sharing the event loop with the engine. Plain CommonJS so the worker loads it with Node alone.
const path = require('node:path');
const { parentPort, workerData } = require('node:worker_threads');

const { base, host, ports, location, inMemory } = workerData;
const load = (rel) => require(path.join(base, 'dist/src', rel)).default;
// Azurite's telemetry is off unless initialised; make that explicit so nothing ever leaves the machine.
const telemetry = require(path.join(base, 'dist/src/common/Telemetry'));
if (telemetry.AzuriteTelemetryClient) telemetry.AzuriteTelemetryClient.enableTelemetry = false;

const at = (file) => (location ? path.join(location, file) : file);
const extents = (name) => [{ locationId: 'Default', locationPath: at(name), maxConcurrency: 10 }];
// Positional constructor arguments of the pinned azurite version. Every service ends with the same options:
// loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemoryPersistence.
const tail = [true, true, '', '', '', undefined, false, inMemory];
// Blob and Queue: host, port, keepAliveTimeout, metadataDB, extentDB, persistence, accessLog, accessLogStream,
// debugLog, debugLogFile, ...tail.
const withExtents = (service, port) => [
  host,
  port,
  0,
  at(`__azurite_db_${service}__.json`),
  at(`__azurite_db_${service}_extent__.json`),
  extents(`__${service}storage__`),
  false,
  undefined,
  false,
  undefined,
  ...tail,
];
const blob = new (load('blob/BlobServer'))(
  new (load('blob/BlobConfiguration'))(...withExtents('blob', ports.blob)),
);
const queue = new (load('queue/QueueServer'))(
  new (load('queue/QueueConfiguration'))(...withExtents('queue', ports.queue)),
);
// Table: host, port, keepAliveTimeout, metadataDB, debugLog, accessLog, accessLogStream, debugLogFile, ...tail.
const table = new (load('table/TableServer'))(
  new (load('table/TableConfiguration'))(
    host,
    ports.table,
    0,
    at('__azurite_db_table__.json'),
    false,
    false,
    undefined,
    undefined,
    ...tail,
  ),
);

const portOf = (server) => Number(new URL(server.getHttpServerAddress()).port);

(async () => {
  await blob.start();
  await queue.start();
  await table.start();
  parentPort.postMessage({
    type: 'ready',
    ports: { blob: portOf(blob), queue: portOf(queue), table: portOf(table) },
  });
})().catch((error) =>
  parentPort.postMessage({ type: 'error', message: String(error && error.stack ? error.stack : error) }),
);

parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  Promise.allSettled([blob.close(), queue.close(), table.close()]).then(() => {
    parentPort.postMessage({ type: 'stopped' });
    process.exit(0);
  });
});
