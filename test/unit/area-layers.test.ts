import { join } from 'node:path';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, it } from 'vitest';
import { areaLayers } from '../../tools/lint/area-layers.mjs';

// The rule behind `npm run lint`'s direction between the areas of shared/ (see eslint.config.js).
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });
const options = [{ layers: [['storage'], ['audit'], ['tokens', 'notifications'], ['directory']], composition: ['shared/http/endpoint.ts'] }];
const at = (file: string) => join(process.cwd(), file);

tester.run('area-layers', areaLayers, {
  valid: [
    { filename: at('shared/tokens/service.ts'), options, code: "import { commitWithEvents } from '../audit/outbox.js';" },
    { filename: at('shared/tokens/service.ts'), options, code: "import { TABLES } from '../storage/names.js';" },
    { filename: at('shared/tokens/service.ts'), options, code: "import { hashToken } from './hashing.js';" },
    // Type-only imports are erased: the Organization type is everyone's vocabulary.
    { filename: at('shared/tokens/service.ts'), options, code: "import type { Organization } from '../directory/repository.js';" },
    { filename: at('shared/tokens/service.ts'), options, code: "import { type Organization } from '../directory/repository.js';" },
    { filename: at('shared/tokens/service.ts'), options, code: "export type { Organization } from '../directory/repository.js';" },
    // Modules directly in shared/ belong to no area; composition modules import any area.
    { filename: at('shared/tokens/service.ts'), options, code: "import { getAppContext } from '../app-context.js';" },
    { filename: at('shared/app-context.ts'), options, code: "import { DirectoryRepository } from './directory/repository.js';" },
    { filename: at('shared/http/endpoint.ts'), options, code: "import { authenticatePat } from '../tokens/authenticate.js';" },
    { filename: at('functions/pats-create.ts'), options, code: "import { createPat } from '../shared/tokens/service.js';" },
  ],
  invalid: [
    {
      filename: at('shared/audit/context.ts'),
      options,
      code: "import { createPat } from '../tokens/service.js';",
      errors: [{ messageId: 'upward', data: { from: 'audit', to: 'tokens', where: 'above' } }],
    },
    {
      filename: at('shared/tokens/leaks.ts'),
      options,
      code: "import { queueNotice } from '../notifications/messages.js';",
      errors: [{ messageId: 'upward', data: { from: 'tokens', to: 'notifications', where: 'in the same layer as' } }],
    },
    {
      filename: at('shared/tokens/leaks.ts'),
      options,
      code: "export { directoryView } from '../directory/service.js';\nexport * from '../directory/schemas.js';\nconst lazy = () => import('../directory/service.js');",
      errors: [{ messageId: 'upward' }, { messageId: 'upward' }, { messageId: 'upward' }],
    },
    {
      filename: at('shared/tokens/service.ts'),
      options,
      code: "import { endpoint } from '../http/endpoint.js';",
      errors: [{ messageId: 'composition' }],
    },
    {
      filename: at('shared/billing/plans.ts'),
      options,
      code: "import { TABLES } from '../storage/names.js';",
      errors: [{ messageId: 'unlisted', data: { area: 'billing' } }],
    },
  ],
});
