import type { FunctionDeclaration } from '../shared/runtime/declarations.js';
import { health } from './health.js';
import { openApiFunction } from './openapi.js';
import { notFoundFunction } from './not-found.js';
import { organizationsList } from './organizations-list.js';
import { organizationsCreate } from './organizations-create.js';
import { projectsList } from './projects-list.js';
import { projectsCreate } from './projects-create.js';
import { projectsGet } from './projects-get.js';
import { projectsUpdate } from './projects-update.js';
import { membersList } from './members-list.js';
import { membersAdd } from './members-add.js';
import { membersUpdate } from './members-update.js';
import { membersRemove } from './members-remove.js';

/** Every function of the app. The Functions host and the local runtime both read this list. */
export const declarations: readonly FunctionDeclaration[] = [
  health,
  openApiFunction(() => declarations),
  organizationsList,
  organizationsCreate,
  projectsList,
  projectsCreate,
  projectsGet,
  projectsUpdate,
  membersList,
  membersAdd,
  membersUpdate,
  membersRemove,
  notFoundFunction(() => declarations),
];
