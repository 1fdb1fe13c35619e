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
// Positional constructor arguments of the pinned azurite version:
// host, port, keepAliveTimeout, metadataDB, [extentDB, persistence], accessLog, accessLogStream, debugLog,
// debugLogFile, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl, inMemory
const blob = new (load('blob/BlobServer'))(
  new (load('blob/BlobConfiguration'))(
    host,
    ports.blob,
    0,
    at('__azurite_db_blob__.json'),
    at('__azurite_db_blob_extent__.json'),
    extents('__blobstorage__'),
    false,
    undefined,
    false,
    undefined,
    true,
    true,
    '',
    '',
    '',
    undefined,
    false,
    inMemory,
  ),
);
const queue = new (load('queue/QueueServer'))(
  new (load('queue/QueueConfiguration'))(
    host,
    ports.queue,
    0,
    at('__azurite_db_queue__.json'),
    at('__azurite_db_queue_extent__.json'),
    extents('__queuestorage__'),
    false,
    undefined,
    false,
    undefined,
    true,
    true,
    '',
    '',
    '',
    undefined,
    false,
    inMemory,
  ),
);
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
    true,
    true,
    '',
    '',
    '',
    undefined,
    false,
    inMemory,
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
