import { describe, expect, it } from 'vitest';
import { parseRepositoryLink } from '../../shared/pipelines/links.js';

describe('repository links of grant requests', () => {
  it.each([
    ['https://github.com/acme/parser', 'https://github.com/acme/parser', 'github.com/acme/parser'],
    ['https://GitHub.com/Acme/Parser.git/', 'https://github.com/Acme/Parser.git', 'github.com/acme/parser'],
    ['https://www.github.com/acme/parser#readme', 'https://www.github.com/acme/parser', 'github.com/acme/parser'],
    ['https://dev.azure.com/acme/oss/_git/parser', 'https://dev.azure.com/acme/oss/_git/parser', 'dev.azure.com/acme/oss/_git/parser'],
    // Other spellings of one repository give the same identity.
    ['https://github.com/acme/p%61rser', 'https://github.com/acme/p%61rser', 'github.com/acme/parser'],
    ['https://github.com/acme/parser/tree/main', 'https://github.com/acme/parser/tree/main', 'github.com/acme/parser'],
    ['https://github.com/ACME/parser.git/blob/main/README.md', 'https://github.com/ACME/parser.git/blob/main/README.md', 'github.com/acme/parser'],
    ['https://gitlab.com/acme/tools/parser/-/tree/main', 'https://gitlab.com/acme/tools/parser/-/tree/main', 'gitlab.com/acme/tools/parser'],
    ['https://dev.azure.com/acme/oss/_git/parser?path=/src', 'https://dev.azure.com/acme/oss/_git/parser?path=/src', 'dev.azure.com/acme/oss/_git/parser'],
  ])('accepts %s', (raw, url, key) => {
    const parsed = parseRepositoryLink(raw);
    expect(parsed).toEqual({ ok: true, link: expect.objectContaining({ url, key }) });
  });

  it.each([
    ['http://github.com/acme/parser', /https/],
    ['ftp://github.com/acme/parser', /https/],
    ['not a link', /spaces/],
    ['github.com/acme/parser', /not a valid URL/],
    ['https://user:pw@github.com/acme/parser', /credentials/],
    ['https://token@github.com/acme/parser', /credentials/],
    ['https://github.com:444/acme/parser', /port/],
    ['https://127.0.0.1/acme/parser', /IP address/],
    ['https://0x7f000001/acme/parser', /IP address/],
    ['https://169.254.169.254/latest/meta-data', /IP address/],
    ['https://[fd00::1]/acme/parser', /IP address/],
    ['https://localhost/acme/parser', /public DNS host/],
    ['https://repo.localhost/acme/parser', /private-network/],
    ['https://git.local/acme/parser', /private-network/],
    ['https://git.home.arpa/acme/parser', /private-network/],
    ['https://github.com/', /repository/],
    [`https://github.com/acme/${'a'.repeat(600)}`, /at most/],
  ])('refuses %s', (raw, problem) => {
    const parsed = parseRepositoryLink(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(problem);
  });
});
