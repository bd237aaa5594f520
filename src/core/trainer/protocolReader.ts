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
        safeCall(() => this.req.onLog?.(parsed.text, 'stdout'));
        break;
    }
  }

  stderrLine(line: SplitLine): void {
    safeCall(() => this.req.onLog?.(line.text, 'stderr'));
  }

  /** Why the final result cannot be used (`no final line`, a non-finite value), or null. */
  finalProblem(): string | null {
    if (!this.final) return 'no final line';
    const bad = Object.entries(this.final).find(([, v]) => !Number.isFinite(v));
    return bad ? `non-finite final value: ${bad[0]}` : null;
  }
}
