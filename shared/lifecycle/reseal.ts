import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { webhookSecretStore } from '../notifications/settings.js';
import { isLostRace } from '../storage/conditional.js';
import { currentPepper } from '../secrets/hashing.js';
import { rotationReplyStore } from '../tokens/rotation.js';
import { seal, sealedVersion, unseal, type SealedStore } from '../secrets/sealing.js';

/**
 * Every kind of stored sealed value (shared/tokens/sealing.ts). A new kind implements SealedStore and
 * is listed here, so that retiring a pepper version never strands it.
 */
export const SEALED_STORES: readonly SealedStore[] = [webhookSecretStore, rotationReplyStore];

/**
 * Re-seals under the current pepper every stored value sealed under an older version, so that the old
 * version can be retired (docs/operations.md, "Rotating the token pepper"); the lifecycle timer runs
 * it on every run. With a single pepper configured there is nothing else a value can be sealed under,
 * so nothing is read. A record changed meanwhile is left for the next run. Answers how many were
 * re-sealed, by kind.
 */
export async function resealSealedValues(app: AppContext, stores: readonly SealedStore[] = SEALED_STORES): Promise<Record<string, number>> {
  const { peppers } = app.config;
  const current = currentPepper(peppers).version;
  const resealed: Record<string, number> = Object.fromEntries(stores.map((store) => [store.name, 0]));
  if (peppers.length < 2) return resealed;
  let unreadable = 0;
  for (const store of stores) {
    for await (const value of store.list(app)) {
      if (sealedVersion(value.sealed) === current) continue;
      const plaintext = unseal(peppers, store.purpose, value.sealed, value.context);
      if (plaintext === undefined) {
        unreadable++;
        continue;
      }
      try {
        await value.replace(seal(peppers, store.purpose, plaintext, value.context));
        resealed[store.name] = (resealed[store.name] ?? 0) + 1;
      } catch (error) {
        if (!isLostRace(error) && restErrorStatus(error) !== 404) throw error;
      }
    }
  }
  if (Object.values(resealed).some((count) => count > 0))
    app.log.info('sealed values re-sealed under the current pepper', { ...resealed, keyVersion: current });
  if (unreadable > 0) app.log.warn('sealed values under a pepper version no longer configured', { unreadable });
  return resealed;
}
