import type { SplitLine } from './lineSplitter';
import { createOutputParser, type OutputParser } from './outputParser';
import type { MetricPoint, RunRequest } from './runTypes';
import { safeCall } from './runUtil';

/**
 * Reads a run's output lines as its protocol says, wherever the run happens (a local process,
 * a Slurm job's output file): points go to the metrics file and `onPoint`, evaluations to
 * `onEval`, everything else to `onLog`; a non-finite loss is reported at once.
 */
export class ProtocolReader {
  final: Record<string, number> | null = null;
  points = 0;
  lastStep: number | null = null;
  private readonly parser: OutputParser;
  /** A line in the other protocol's final format, seen while no final result was parsed. */
  private otherProtocol: string | null = null;
  /** For autoresearch's summary: whether its `---` line was seen. */
  separatorSeen = false;

  constructor(
    private readonly req: Pick<RunRequest, 'output' | 'onPoint' | 'onEval' | 'onLog'>,
    private readonly metrics: { write(text: string): void },
    /** Milliseconds since the run started, stamped on each point. */
    private readonly now: () => number,
    private readonly onNonFiniteLoss: (reason: string) => void,
  ) {
    this.parser = createOutputParser(req.output);
  }

  stdoutLine(line: SplitLine): void {
    const parsed = this.parser.parseLine(line.text);
    switch (parsed.kind) {
      case 'point': {
        const point: MetricPoint = { t: this.now(), ...parsed.point };
        this.points++;
        if (typeof point.step === 'number' && Number.isFinite(point.step)) this.lastStep = point.step;
        this.metrics.write(JSON.stringify(point) + '\n');
        safeCall(() => this.req.onPoint?.(point));
        if (typeof point.loss === 'number' && !Number.isFinite(point.loss)) this.onNonFiniteLoss(`non-finite loss at step ${point.step ?? this.lastStep ?? '?'}`);
        break;
      }
      case 'eval':
        if (typeof parsed.step === 'number' && Number.isFinite(parsed.step)) this.lastStep = parsed.step;
        safeCall(() => this.req.onEval?.(parsed.values, parsed.step));
        break;
      case 'final':
        this.final = { ...(this.final ?? {}), ...parsed.values };
        break;
      case 'log':
        if (!this.final && !this.otherProtocol) this.otherProtocol = otherProtocolLine(this.req.output, parsed.text, this);
        safeCall(() => this.req.onLog?.(parsed.text, 'stdout'));
        break;
    }
  }

  stderrLine(line: SplitLine): void {
    safeCall(() => this.req.onLog?.(line.text, 'stderr'));
  }

  /** More about a crash the output explains (autoresearch's `FAIL`), or ''. */
  crashNote(): string {
    return (this.parser as { failed?: boolean }).failed ? ': train.py printed FAIL (its fast fail: the loss was NaN or above 100)' : '';
  }

  /** Why the final result cannot be used (`no final line`, a non-finite value), or null. */
  finalProblem(): string | null {
    if (!this.final && this.otherProtocol) return this.otherProtocol;
    if (!this.final) return 'no final line';
    const bad = Object.entries(this.final).find(([, v]) => !Number.isFinite(v));
    return bad ? `non-finite final value: ${bad[0]}` : null;
  }
}

/**
 * "output format mismatch: …" when `text` is the other protocol's final result: an
 * autoresearch summary line (`val_bpb: 0.99` after `---`) under `"output": "ratchet"`, or a
 * `{"final": …}` JSON line under `"output": "autoresearch"`.
 */
function otherProtocolLine(output: RunRequestOutput, text: string, state: { separatorSeen: boolean }): string | null {
  const s = text.trim();
  if (output === 'autoresearch') {
    if (/^\{\s*"final"\s*:/.test(s)) return 'output format mismatch: the trainer printed a {"final": …} JSON line (Ratchet\'s protocol) but "output" is "autoresearch": set "output": "ratchet" in ratchet.json';
    return null;
  }
  if (s === '---') {
    state.separatorSeen = true;
    return null;
  }
  if (state.separatorSeen && /^[A-Za-z_]\w*:\s+[-+]?(?:\d|nan|inf)/i.test(s)) {
    return `output format mismatch: the trainer printed autoresearch's summary ("${s.slice(0, 60)}" after "---") but "output" is "ratchet": set "output": "autoresearch" in ratchet.json`;
  }
  return null;
}

type RunRequestOutput = RunRequest['output'];
