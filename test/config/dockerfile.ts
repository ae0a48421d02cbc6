// A small Dockerfile reader for the deploy test: instructions by stage, continuation lines
// joined, comments dropped. Enough for the instructions the project's Dockerfile uses.
export interface Instruction { op: string; args: string; line: number }
export interface Stage { from: string; name: string | null; steps: Instruction[] }

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!.trim();
    if (l === '' || l.startsWith('#')) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = `${l.slice(0, -1).trim()} ${lines[++i]!.trim()}`;
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (m === null) throw new Error(`Dockerfile:${start + 1}: cannot read ${JSON.stringify(l)}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: f[1]!, name: f[2] ?? null, steps: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile:${start + 1}: ${op} before FROM`);
      stages.at(-1)!.steps.push({ op, args, line: start + 1 });
    }
  }
  return stages;
}

/** The exec form (["node", "x"]) as a list. */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  return JSON.parse(json) as string[];
}
