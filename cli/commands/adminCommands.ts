import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { isId } from '../../shared/contracts/ids';
import { paths } from '../../shared/contracts/routes';
import { errorForAnswer, errorInfo } from '../apiClient';
import { idArg, printJson } from '../args';
import { JSON_OPTION, stringFlag, type Command } from '../command';
import { UnavailableError, UsageError } from '../errors';
import { safe } from '../render/text';

const MAX_DOCUMENT_BYTES = 256 * 1024;

/** Reads `-f FILE` (or `-` for stdin): its text, whether it is YAML, and the cluster id it declares. */
async function readDocument(
  file: string,
  stdin: NodeJS.ReadableStream,
): Promise<{ text: string; yaml: boolean; id: string }> {
  let text: string;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) throw new UsageError(`${file} is larger than 256 KiB`);
  const ext = path.extname(file).toLowerCase();
  const yaml = ext !== '.json' && !(file === '-' && text.trimStart().startsWith('{'));
  let document: unknown;
  try {
    document = yaml ? YAML.parse(text, { uniqueKeys: true }) : JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${file} is not ${yaml ? 'YAML' : 'JSON'}: ${(error instanceof Error ? error.message : '').split('\n')[0]}`,
    );
  }
  const id = (document as { id?: unknown } | null)?.id;
  if (!isId(id)) throw new UsageError(`${file} has no valid "id" (the cluster id)`);
  return { text, yaml, id };
}

const declaredSchema = z
  .object({ changed: z.boolean(), warnings: z.array(z.unknown()).optional() })
  .passthrough();

/** `failoverctl apply -f cluster.yaml`: declares or updates the cluster the document names (PUT). */
export const applyCommand: Command = {
  name: 'apply',
  args: '-f <cluster.yaml>',
  summary: 'declare or update a cluster from its document (YAML or JSON)',
  details: [
    'The cluster id is the document\'s "id". `-f -` reads stdin. Exit 2 with every problem when it is invalid.',
  ],
  options: {
    file: { type: 'string', short: 'f', help: 'the cluster document (.yaml, .yml or .json; - for stdin)' },
    json: JSON_OPTION,
  },
  minArgs: 0,
  maxArgs: 0,
  json: true,
  async run({ io, flags, json, api }) {
    const file = stringFlag(flags, 'file');
    if (!file) throw new UsageError('apply needs -f <cluster.yaml>');
    const document = await readDocument(file, io.stdin);
    const answer = await api().send(paths.cluster(document.id), {
      method: 'PUT',
      raw: { text: document.text, contentType: document.yaml ? 'application/yaml' : 'application/json' },
    });
    if (answer.status >= 300) {
      const info = errorInfo(answer);
      const problems = Array.isArray(info.error.problems)
        ? (info.error.problems as { path?: unknown; message?: unknown }[])
        : [];
      if (problems.length > 0 && !json)
        for (const p of problems) io.out(`  ${safe(p.path)}: ${safe(p.message)}\n`);
      throw errorForAnswer(info);
    }
    if (json) {
      printJson(io.out, answer.json);
      return 0;
    }
    const parsed = declaredSchema.safeParse(answer.json);
    if (!parsed.success)
      throw new UnavailableError('the control plane answered a declaration the CLI cannot read');
    const verb = answer.status === 201 ? 'created' : parsed.data.changed ? 'updated' : 'unchanged';
    io.out(`cluster ${safe(document.id)} ${verb}\n`);
    for (const w of parsed.data.warnings ?? [])
      io.out(`  warning: ${safe(typeof w === 'string' ? w : JSON.stringify(w))}\n`);
    return 0;
  },
};

const keySchema = z.object({
  nodeId: z.string(),
  keyVersion: z.number(),
  key: z.string(),
  /** The cluster's peer key (peer promises); absent from a control plane older than them. */
  peerKey: z.string().optional(),
});

/**
 * `failoverctl node-key <cluster> <node> [--rotate] [--out DIR]`: the node's agent key and the cluster's peer key,
 * shown once, or written to `DIR/<node>.key` and `DIR/peer.key` (mode 0600) instead of being shown.
 */
export const nodeKeyCommand: Command = {
  name: 'node-key',
  args: '<cluster> <node>',
  summary: "issue a node's agent key (shown once), or rotate it",
  details: [
    "Put the key in the agent's configuration (key.file); it is never shown again (--rotate issues the next version).",
    'The cluster peer key that comes with it goes in peerListener.keyFile (the same for every node of the cluster).',
    '--out DIR writes both to DIR/<node>.key and DIR/peer.key (mode 0600) instead of showing them.',
  ],
  options: {
    rotate: { type: 'boolean', help: 'issue the next key version' },
    out: {
      type: 'string',
      help: 'write the keys to DIR/<node>.key and DIR/peer.key instead of showing them',
    },
    json: JSON_OPTION,
  },
  minArgs: 2,
  maxArgs: 2,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const nodeId = idArg(args, 1, 'node');
    const answer = await api().call(
      `${paths.nodeKey(clusterId, nodeId)}${flags.rotate === true ? '?rotate=true' : ''}`,
      {
        method: 'POST',
      },
    );
    const out = stringFlag(flags, 'out');
    if (json && out === undefined) {
      printJson(io.out, answer);
      return 0;
    }
    const parsed = keySchema.safeParse(answer);
    if (!parsed.success) throw new UnavailableError('the control plane answered a key the CLI cannot read');
    const { keyVersion, key, peerKey } = parsed.data;
    const who = `${safe(clusterId)}/${safe(parsed.data.nodeId)}`;
    if (out !== undefined) {
      const keyFile = path.join(out, `${nodeId}.key`);
      const peerKeyFile = path.join(out, 'peer.key');
      try {
        mkdirSync(out, { recursive: true, mode: 0o700 });
        writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
        if (peerKey !== undefined) writeFileSync(peerKeyFile, `${peerKey}\n`, { mode: 0o600 });
      } catch (error) {
        throw new UsageError(
          `cannot write the keys to ${out}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      const written = {
        nodeId: parsed.data.nodeId,
        keyVersion,
        keyFile,
        ...(peerKey ? { peerKeyFile } : {}),
      };
      if (json) printJson(io.out, written);
      else
        io.out(
          `key version ${keyVersion} of ${who} written to ${safe(keyFile)}` +
            (peerKey !== undefined ? `; the cluster peer key to ${safe(peerKeyFile)}` : '') +
            '\n',
        );
      return 0;
    }
    io.out(`key version ${keyVersion} of ${who} (shown once):\n${key}\n`);
    if (peerKey !== undefined)
      io.out(`peer key of ${safe(clusterId)} (peerListener.keyFile; shown once):\n${peerKey}\n`);
    return 0;
  },
};

/** `failoverctl witness break <cluster> --reason R`. */
export const witnessBreakCommand: Command = {
  name: 'witness break',
  args: '<cluster>',
  summary: 'break a stuck witness lease (audited)',
  options: { reason: { type: 'string', help: 'why (required: goes to the audit log)' }, json: JSON_OPTION },
  minArgs: 1,
  maxArgs: 1,
  json: true,
  async run({ io, args, flags, json, api }) {
    const clusterId = idArg(args, 0, 'cluster');
    const reason = stringFlag(flags, 'reason');
    if (!reason) throw new UsageError('witness break needs --reason "why" (it goes to the audit log)');
    const answer = await api().call(
      `${paths.witnessBreak(clusterId)}?${new URLSearchParams({ reason }).toString()}`,
      {
        method: 'POST',
      },
    );
    if (json) printJson(io.out, answer);
    else io.out(`witness lease of ${safe(clusterId)} broken\n`);
    return 0;
  },
};
