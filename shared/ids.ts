import { z } from 'zod';

/**
 * A GUID as Azure DevOps and Entra ID write it: 8-4-4-4-12 hex digits, either case. The pattern has no
 * flags, so it means the same where it is published (the OpenAPI `pattern` of `guidText`).
 */
export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const isGuid = (value: string | undefined): boolean => value !== undefined && GUID_PATTERN.test(value);

/** A GUID in a query or a body: `must be a GUID` otherwise. */
export const guidText = z.string().regex(GUID_PATTERN, 'must be a GUID');

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
