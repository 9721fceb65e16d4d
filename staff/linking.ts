/**
 * Groups items that share a key (an identity, a phone, an e-mail), transitively: the union-find
 * both the customer directory and the ticket-based recount link customers with.
 */

/**
 * Returns the groups of `items` linked by any shared key, each group in input order, groups in the
 * order of their first item's root.
 */
export function groupByLinkedKeys<T>(items: readonly T[], keysOf: (item: T) => Iterable<string>): T[][] {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  // The first item seen with each key; later ones join its set.
  const owner = new Map<string, number>();
  items.forEach((item, i) => {
    for (const key of keysOf(item)) {
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, T[]>();
  items.forEach((item, i) => {
    const root = find(i);
    const g = groups.get(root);
    if (g) g.push(item);
    else groups.set(root, [item]);
  });
  return [...groups.values()];
}
