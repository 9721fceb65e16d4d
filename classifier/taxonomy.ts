/** The taxonomy of topics and demand types, shipped as versioned data (`data/taxonomy.json`). */
import { z } from 'zod';

export const DEMAND_TYPES = ['complaint', 'suggestion', 'inquiry', 'praise'] as const;
export type DemandType = (typeof DEMAND_TYPES)[number];

const Name = z.object({ zh: z.string().min(1), en: z.string().min(1) }).strict();

export const TaxonomySchema = z
  .object({
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'version must look like 1.0.0'),
    topics: z
      .array(z.object({ id: z.string().regex(/^[a-z][a-z0-9_-]*$/), name: Name, scope: z.string() }).strict())
      .min(2),
    types: z.array(z.object({ id: z.enum(DEMAND_TYPES), name: Name, scope: z.string() }).strict()).length(DEMAND_TYPES.length),
    boundaries: z.array(z.string()).default([]),
  })
  .strict()
  .refine((t) => new Set(t.topics.map((x) => x.id)).size === t.topics.length, 'topic ids must be unique');

export type Taxonomy = z.infer<typeof TaxonomySchema>;

/** Validates raw taxonomy data (e.g. parsed JSON). Throws a ZodError naming the bad field. */
export function parseTaxonomy(raw: unknown): Taxonomy {
  return TaxonomySchema.parse(raw);
}
