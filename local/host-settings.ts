import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The parts of host.json the local runtime honours, with the host's defaults. */
export interface HostSettings {
  readonly routePrefix: string;
  readonly queues: {
    readonly batchSize: number;
    /** Messages in flight at or below which the next batch is fetched (the host's default: half a batch). */
    readonly newBatchThreshold: number;
    readonly maxDequeueCount: number;
    readonly visibilityTimeoutSeconds: number;
    readonly maxPollingIntervalMs: number;
    readonly messageEncoding: 'base64' | 'none';
  };
}

const timeSpan = z
  .string()
  .regex(/^\d{2}:\d{2}:\d{2}(\.\d+)?$/, 'expected a TimeSpan such as 00:00:30')
  .transform((value) => {
    const [hours = 0, minutes = 0, seconds = 0] = value.split(':').map(Number);
    return ((hours * 60 + minutes) * 60 + seconds) * 1000;
  });

const hostJsonSchema = z.object({
  version: z.literal('2.0'),
  extensions: z
    .object({
      http: z
        .object({ routePrefix: z.string().default('api') })
        .partial()
        .default({}),
      queues: z
        .object({
          batchSize: z.number().int().min(1).max(32).default(16),
          newBatchThreshold: z.number().int().min(0).optional(),
          maxDequeueCount: z.number().int().min(1).default(5),
          visibilityTimeout: timeSpan.default(0),
          maxPollingInterval: timeSpan.default(60_000),
          messageEncoding: z.enum(['base64', 'none']).default('base64'),
        })
        .partial()
        .default({}),
    })
    .partial()
    .default({}),
});

export function parseHostSettings(json: unknown): HostSettings {
  const parsed = hostJsonSchema.parse(json);
  const queues = parsed.extensions.queues ?? {};
  return {
    routePrefix: (parsed.extensions.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    queues: {
      batchSize: queues.batchSize ?? 16,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor((queues.batchSize ?? 16) / 2),
      maxDequeueCount: queues.maxDequeueCount ?? 5,
      visibilityTimeoutSeconds: Math.round((queues.visibilityTimeout ?? 0) / 1000),
      maxPollingIntervalMs: Math.max(100, queues.maxPollingInterval ?? 60_000),
      messageEncoding: queues.messageEncoding ?? 'base64',
    },
  };
}

export function readHostSettings(path = 'host.json'): HostSettings {
  return parseHostSettings(JSON.parse(readFileSync(path, 'utf8')));
}
