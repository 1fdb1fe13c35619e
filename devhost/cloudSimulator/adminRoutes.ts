import { z } from 'zod';
import type { CloudModel } from './cloudModel';
import { SimBadRequest, type SimRoute } from './simRoute';

const sizeSchema = z
  .object({ name: z.string().min(1), family: z.string().min(1), cores: z.number().int().positive() })
  .strict();
const siteSchema = z
  .object({
    cloud: z.enum(['azure', 'oci']),
    region: z.string().min(1),
    quotas: z.record(
      z.object({ limit: z.number().int().min(0), extraUsed: z.number().int().min(0).optional() }).strict(),
    ),
    capacity: z.record(z.number().int().min(0)),
    restrictions: z.record(z.union([z.array(z.string()), z.literal('all')])).optional(),
    down: z.enum(['refuse', 'hang']).optional(),
  })
  .strict();
const faultSchema = z
  .object({
    cloud: z.enum(['azure', 'oci']),
    region: z.string().min(1),
    operation: z.enum(['start', 'create', 'stop', 'any']),
    kind: z.enum([
      'AllocationFailed',
      'ZonalAllocationFailed',
      'QuotaExceeded',
      'Throttled',
      'OutOfHostCapacity',
      'LimitExceeded',
      'SkuNotAvailable',
      'ServerError',
      'Slow',
    ]),
    remaining: z.number().int().positive().optional(),
    retryAfterSeconds: z.number().int().min(0).optional(),
    delayMs: z.number().int().min(0).optional(),
    async: z.boolean().optional(),
  })
  .strict();
const vmSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1),
    cloud: z.enum(['azure', 'oci']),
    region: z.string().min(1),
    zone: z.string().optional(),
    size: z.string().min(1),
    powerState: z.enum(['running', 'stopped', 'deallocated']),
    group: z.string().optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new SimBadRequest(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return result.data;
}

const ok = (body: unknown) => ({ status: 200, body });

/** `/admin/*`: inspect and steer the simulated clouds. Loopback only, like the whole simulator. */
export const adminRoutes: SimRoute[] = [
  {
    cloud: 'admin',
    method: 'GET',
    pattern: /^\/admin\/state$/,
    handle: (_r, _p, model) => ok(model.snapshot()),
  },
  {
    cloud: 'admin',
    method: 'POST',
    pattern: /^\/admin\/sizes$/,
    handle: (r, _p, model: CloudModel) => {
      for (const size of parse(z.array(sizeSchema), r.json())) model.sizes.set(size.name, size);
      return ok({ sizes: [...model.sizes.values()] });
    },
  },
  {
    cloud: 'admin',
    method: 'PUT',
    pattern: /^\/admin\/sites$/,
    handle: (r, _p, model) => {
      const site = parse(siteSchema, r.json());
      model.putSite(site);
      return ok(site);
    },
  },
  {
    cloud: 'admin',
    method: 'POST',
    pattern: /^\/admin\/faults$/,
    handle: (r, _p, model) => ok(model.addFault(parse(faultSchema, r.json()))),
  },
  {
    cloud: 'admin',
    method: 'DELETE',
    pattern: /^\/admin\/faults$/,
    handle: (_r, _p, model) => {
      model.faults.splice(0);
      return ok({ faults: [] });
    },
  },
  {
    cloud: 'admin',
    method: 'POST',
    pattern: /^\/admin\/vms$/,
    handle: (r, _p, model) => {
      const vm = parse(vmSchema, r.json());
      if (!model.sizes.has(vm.size))
        throw new SimBadRequest(`unknown size ${vm.size}: POST /admin/sizes first`);
      model.vms.set(vm.id, { ...vm, createdAt: model.clock.now() });
      return ok(model.vms.get(vm.id));
    },
  },
  {
    cloud: 'admin',
    method: 'PUT',
    pattern: /^\/admin\/transition$/,
    handle: (r, _p, model) => {
      const { transitionMs } = parse(z.object({ transitionMs: z.number().int().min(0) }).strict(), r.json());
      model.transitionMs = transitionMs;
      return ok({ transitionMs });
    },
  },
];
