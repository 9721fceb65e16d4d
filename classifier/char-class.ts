/**
 * A character class (a one-character regular expression such as `\p{Script=Han}`) answered from a
 * table of the BMP that fills itself as characters are met: one regular-expression test per
 * character of every message was a few per cent of a classification, and building the whole table
 * up front would cost 65,536 tests at start-up for the few thousand characters customers use.
 */
export class CharClass {
  // 0 = not yet known, 1 = no, 2 = yes.
  private readonly bmp = new Uint8Array(0x10000);

  /** @param pattern a /u pattern that matches one code point (no /g or /y: `test` must not keep state). */
  constructor(private readonly pattern: RegExp) {
    if (pattern.global || pattern.sticky) throw new RangeError('CharClass: the pattern must not be global or sticky');
  }

  /**
   * True when the code point matches the pattern. A lone surrogate is tested as itself, as a /u
   * pattern sees one in a string; code points above the BMP are tested each time (rare).
   */
  has(cp: number): boolean {
    if (cp > 0xffff) return this.pattern.test(String.fromCodePoint(cp));
    let known = this.bmp[cp];
    if (known === 0) this.bmp[cp] = known = this.pattern.test(String.fromCharCode(cp)) ? 2 : 1;
    return known === 2;
  }
}
