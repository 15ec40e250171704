// Tiny "--name value" / "--flag" parser for the harness scripts (no dependency needed).
// Names in `multi` may repeat and collect into an array.
export function parseArgs(argv, flags = [], multi = []) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (flags.includes(name)) {
        out[name] = true;
      } else {
        if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
        const v = argv[++i];
        if (multi.includes(name)) {
          (out[name] ??= []).push(v);
        } else {
          out[name] = v;
        }
      }
    } else {
      out._.push(a);
    }
  }
  return out;
}
