/**
 * Keyword suggestions for trainers: terms that occur often in the messages the classifier was
 * unsure about (sent to review) or got wrong (corrected by staff), and that no topic's keywords
 * cover yet. Those are the words the model is missing; each comes with the topic staff most often
 * gave such messages, as the likely place to add it.
 */

/** A message to mine: its ticket, text and the topic it has now (corrected or not). */
export interface SuggestionSource {
  number: string;
  text: string;
  topic: string | null;
}

export interface KeywordSuggestion {
  term: string;
  /** Messages that contain it. */
  count: number;
  /** Up to three of their ticket numbers. */
  examples: string[];
  /** The topic most of those messages have, or null when none has one. */
  topic: string | null;
}

export interface SuggestionOptions {
  /** A term must occur in at least this many messages. */
  minCount?: number;
  limit?: number;
}

/**
 * Counts each term once per message (`terms` gives a message's content terms) and returns the
 * frequent ones that are not in `known`, most frequent first.
 */
export function suggestKeywords(
  sources: readonly SuggestionSource[],
  terms: (text: string) => string[],
  known: ReadonlySet<string>,
  opts: SuggestionOptions = {},
): KeywordSuggestion[] {
  const minCount = opts.minCount ?? 2;
  const limit = opts.limit ?? 50;
  const found = new Map<string, { count: number; examples: string[]; topics: Map<string, number> }>();
  for (const s of sources) {
    for (const term of new Set(terms(s.text))) {
      if (known.has(term)) continue;
      let f = found.get(term);
      if (!f) found.set(term, (f = { count: 0, examples: [], topics: new Map() }));
      f.count++;
      if (f.examples.length < 3) f.examples.push(s.number);
      if (s.topic) f.topics.set(s.topic, (f.topics.get(s.topic) ?? 0) + 1);
    }
  }
  return [...found.entries()]
    .filter(([, f]) => f.count >= minCount)
    .sort(([ta, a], [tb, b]) => b.count - a.count || (ta < tb ? -1 : 1))
    .slice(0, limit)
    .map(([term, f]) => ({ term, count: f.count, examples: f.examples, topic: mostFrequent(f.topics) }));
}

function mostFrequent(counts: Map<string, number>): string | null {
  let best: string | null = null;
  let n = 0;
  for (const [k, c] of counts) {
    if (c > n || (c === n && best !== null && k < best)) {
      best = k;
      n = c;
    }
  }
  return best;
}
