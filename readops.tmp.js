const { startAzurite } = require('/work/main/dist/devhost');
const { TableServiceClient, TableClient } = require('@azure/data-tables');
(async () => {
  const az = await startAzurite({ inMemory: false, location: process.argv[2] + '/azurite' });
  const svc = TableServiceClient.fromConnectionString(az.connectionString, { allowInsecureConnection: true });
  for await (const t of svc.listTables()) {
    if (!/Operations$|ClusterState$/.test(t.name)) continue;
    const tc = TableClient.fromConnectionString(az.connectionString, t.name, { allowInsecureConnection: true });
    for await (const e of tc.listEntities()) {
      if (String(e.rowKey).startsWith('idx-')) continue;
      const op = e.Operation ? JSON.parse(e.Operation) : e;
      if (op.steps) op.steps = op.steps.map(s => `${s.id}:${s.outcome}@${new Date(s.startedAt).toISOString().slice(11,23)}${s.detail? ' '+JSON.stringify(s.detail).slice(0,150):''}`);
      console.log(t.name, JSON.stringify(op).slice(0, 2500));
    }
  }
  await az.stop();
})();
