import type { Timer } from '@azure/functions';
import type { BlobServiceClient } from '@azure/storage-blob';
import { errorMessage, type Logger } from '../shared/logging.js';
import type { FunctionDeclaration, TimerDeclaration } from '../shared/runtime/declarations.js';
import { parseNcrontab, resolveSettingReference, type Schedule } from '../shared/runtime/ncrontab.js';
import type { Invocations } from './invocations.js';
import { ScheduleMonitor } from './schedule-monitor.js';
import { setLongTimeout, TimerLeases, type TimerHandle } from './timers.js';

/** The schedule of every timer function by name; all invalid schedules are reported together. */
export function parseSchedules(declarations: readonly FunctionDeclaration[], settings: Record<string, string | undefined>): Map<string, Schedule> {
  const schedules = new Map<string, Schedule>();
  const problems: string[] = [];
  for (const declaration of declarations) {
    if (declaration.kind !== 'timer') continue;
    try {
      schedules.set(declaration.name, parseNcrontab(resolveSettingReference(declaration.options.schedule, settings)));
    } catch (error) {
      problems.push(`${declaration.name}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`Invalid timer schedules:\n  - ${problems.join('\n  - ')}`);
  return schedules;
}

/** One run of a timer function, logged as an invocation; a failure is logged and rethrown. */
export async function runTimerFunction(invocations: Invocations, declaration: TimerDeclaration, timer: Timer): Promise<void> {
  const context = invocations.contextFor(declaration.name, {});
  const started = Date.now();
  try {
    await declaration.handler(timer, context);
    invocations.logInvocation(declaration.name, context.invocationId, started, 'succeeded', { isPastDue: String(timer.isPastDue) });
  } catch (error) {
    invocations.logInvocation(declaration.name, context.invocationId, started, 'failed', { error: errorMessage(error).slice(0, 500) });
    throw error;
  }
}

export interface TimerSchedulerOptions {
  readonly declarations: readonly TimerDeclaration[];
  readonly schedules: ReadonlyMap<string, Schedule>;
  readonly blobService: BlobServiceClient | undefined;
  readonly hostId: string;
  readonly log: Logger;
  readonly invocations: Invocations;
  /** False once the runtime stops: no timer is armed again after that. */
  readonly isRunning: () => boolean;
}

export interface TimerScheduler {
  /** Cancels every armed timer and releases the timer leases this instance holds. */
  stop(): Promise<void>;
}

/**
 * Arms each timer function on its NCRONTAB schedule, as the host does: a run missed while nothing was
 * running (per the schedule monitor's status) runs at once with `isPastDue`, `runOnStartup` runs at
 * start, and with a blob service only the holder of the timer's singleton lease runs it.
 */
export async function startTimerScheduler(options: TimerSchedulerOptions): Promise<TimerScheduler> {
  const { schedules, invocations, isRunning } = options;
  const timers: TimerHandle[] = [];
  const monitor = new ScheduleMonitor(options.blobService, options.hostId);
  // Every instance keeps the schedule; only the holder of the timer's singleton lease runs it.
  const leases = options.blobService ? new TimerLeases(options.blobService, options.hostId, options.log) : undefined;

  for (const declaration of options.declarations) {
    const schedule = schedules.get(declaration.name);
    if (!schedule) continue;
    const fire = async (isPastDue: boolean, last: Date | undefined) => {
      // A lease that cannot be read (storage down) is not held: this occurrence is skipped, never thrown.
      if (leases && !(await leases.holds(declaration.name).catch(() => false))) return;
      const now = new Date();
      const next = schedule.next(now);
      await runTimerFunction(invocations, declaration, {
        isPastDue,
        schedule: { adjustForDST: true },
        scheduleStatus: {
          last: (last ?? now).toISOString(),
          next: next?.toISOString() ?? '',
          lastUpdated: now.toISOString(),
        },
      }).catch(() => undefined);
      if (declaration.options.useMonitor) await monitor.save(declaration.name, { Last: now, Next: next }).catch(() => undefined);
    };
    const arm = (from: Date, last: Date | undefined) => {
      if (!isRunning()) return;
      const next = schedule.next(from);
      if (!next) return;
      const timeout = setLongTimeout(() => {
        void fire(false, last).finally(() => arm(next, next));
      }, next.getTime() - Date.now());
      timers.push(timeout);
    };
    const status = declaration.options.useMonitor ? await monitor.load(declaration.name).catch(() => undefined) : undefined;
    if (status?.Next && status.Next.getTime() < Date.now()) {
      void fire(true, status.Last).finally(() => arm(new Date(), new Date()));
    } else if (declaration.options.runOnStartup) {
      void fire(false, undefined).finally(() => arm(new Date(), new Date()));
    } else {
      arm(new Date(), status?.Last);
      if (declaration.options.useMonitor && !status) {
        await monitor.save(declaration.name, { Last: undefined, Next: schedule.next(new Date()) }).catch(() => undefined);
      }
    }
  }

  return {
    stop: async () => {
      timers.forEach((timer) => timer.cancel());
      await leases?.releaseAll();
    },
  };
}
