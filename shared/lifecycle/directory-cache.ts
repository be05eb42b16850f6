import type { AppContext } from '../app-context.js';
import type { Organization, User } from '../directory/repository.js';

/**
 * Organization and user look-ups of one lifecycle run, each read at most once per run and counted,
 * so the run's "entities read" stays honest.
 */
export interface DirectoryCache {
  organization(id: string): Promise<Organization | undefined>;
  user(id: string): Promise<User | undefined>;
}

export function directoryCache(app: AppContext, counters: { directoryReads: number }): DirectoryCache {
  const organizations = new Map<string, Promise<Organization | undefined>>();
  const users = new Map<string, Promise<User | undefined>>();
  const cached = <T>(map: Map<string, Promise<T>>, id: string, read: () => Promise<T>) => {
    let found = map.get(id);
    if (!found) {
      counters.directoryReads++;
      map.set(id, (found = read()));
    }
    return found;
  };
  return {
    organization: (id) => cached(organizations, id, () => app.directory.getOrganizationById(id)),
    user: (id) => cached(users, id, () => app.directory.getUser(id)),
  };
}
