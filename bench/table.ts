// The human-readable summary printed to stderr after the JSON report.
type R = Record<string, unknown>;

const fmt = (v: unknown): string => {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (v === undefined || v === null) return '-';
  return String(v);
};
const verdict = (met: unknown) => (met === true ? 'MET' : met === false ? 'NOT MET' : 'n/a');
const get = (o: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as R)[k] : undefined), o);

export function printTable(results: R, out: (line: string) => void): void {
  const rows: string[][] = [['benchmark', 'figure', 'value', 'target']];
  const add = (bench: string, figure: string, value: unknown, target = '') =>
    rows.push([bench, figure, fmt(value), target]);
  for (const [name, r] of Object.entries(results)) {
    if (get(r, 'error')) {
      add(name, 'ERROR', get(r, 'error'));
      continue;
    }
    switch (name) {
      case 'consumer':
        add(
          '1 consumer',
          'overlap failed requests (median, pod model)',
          get(r, 'overlap', 'failuresMedian'),
          verdict(get(r, 'met')),
        );
        add(
          '',
          'overlap failed requests (max, either model)',
          Math.max(
            Number(get(r, 'overlap', 'failuresMax')),
            Number(get(r, 'overlap', 'restartedAtModel', 'failuresMax')),
          ),
        );
        add('', 'in-place failed requests (median, pod model)', get(r, 'inPlace', 'failuresMedian'));
        add(
          '',
          'in-place longest failure window ms (pod model)',
          get(r, 'inPlace', 'longestFailureMsMedian'),
        );
        add(
          '',
          'in-place longest failure ms (restartedAt model)',
          get(r, 'inPlace', 'restartedAtModel', 'longestFailureMsMedian'),
        );
        add('', 'requests per rotation (median)', get(r, 'overlap', 'requestsMedian'));
        break;
      case 'root':
        add(
          '2 root',
          'RotateRoot rejection window ms (median)',
          get(r, 'rotateRootWindowMsMedian'),
          verdict(get(r, 'met')),
        );
        add('', 'bare store restart ms (median)', get(r, 'bareRestartMsMedian'));
        add('', 'excess over bare restart ms', get(r, 'excessOverBareMs'), '≤ 1000');
        add('', 'no-root-accepted window ms (median)', get(r, 'anyRootWindowMsMedian'));
        add('', 'plain StatefulSet rollout window ms', get(r, 'plainRolloutWindowMsMedian'));
        add(
          '',
          `store`,
          `${fmt(get(r, 'store'))}, IAM ${get(r, 'iamSurvivesRootChange') ? 'kept' : 'lost'} on root change`,
        );
        add('', 'zone-key refusal window ms (median of the longest zone)', get(r, 'zoneKeyWindowMsMedian'));
        add('', 'zone-key excess over the admin window ms', get(r, 'zoneKeyExcessOverRootWindowMsMedian'));
        add('', 'zoneKeysRefusedMs the run reported (median)', get(r, 'zoneKeysRefusedMsReportedMedian'));
        break;
      case 'overhead':
        for (const zone of ['ingest', 'serving']) {
          add(
            zone === 'ingest' ? '3 overhead' : '',
            `${zone}: workflow/direct ratio (median)`,
            get(r, zone, 'ratioMedian'),
            zone === 'ingest' ? verdict(get(r, 'met')) : '',
          );
          add('', `${zone}: workflow ms excl. waits`, get(r, zone, 'workflowAdjustedMsMedian'));
          add('', `${zone}: direct ms excl. waits`, get(r, zone, 'directAdjustedMsMedian'));
          add('', `${zone}: ratio if every step cost the floor`, get(r, 'floor', 'ratios', zone, 'ratio'));
        }
        add('', 'floor: empty workflow ms', get(r, 'floor', 'emptyWorkflowMs'));
        add('', 'floor: per local activity ms', get(r, 'floor', 'perLocalActivityMs'));
        add('', 'floor: regular activity round trip ms', get(r, 'floor', 'regularActivityRoundTripMs'));
        break;
      case 'scale': {
        const list = (get(r, 'results') as R[] | undefined) ?? [];
        let first = true;
        for (const x of list) {
          add(
            first ? '4 scale' : '',
            `N=${fmt(x.n)} bootstrap + rotate ms (median)`,
            `${fmt(x.totalMsMedian)} (${fmt(x.bootstrapMsMedian)} + ${fmt(x.rotateMsMedian)})`,
            first ? verdict(get(r, 'met')) : '',
          );
          first = false;
        }
        add(
          '',
          'per-zone time, last N vs first N',
          get(r, 'growth', 'perZoneRatioLastVsFirst'),
          '≈ 1 = linear',
        );
        add('', 'zones at once (parallelism)', get(r, 'parallelism'));
        break;
      }
      case 'nodes':
        add('6 root, 4 nodes', 'store', get(r, 'store'), verdict(get(r, 'met')));
        for (const strategy of ['rolling', 'all-at-once']) {
          const refused = get(r, strategy, 'refused');
          if (refused) {
            add('', `${strategy}: refused`, String(refused).slice(0, 100));
            continue;
          }
          add(
            '',
            `${strategy}: failed consumer requests (median)`,
            get(r, strategy, 'consumerFailuresMedian'),
            strategy === 'rolling' ? '0' : '',
          );
          add(
            '',
            `${strategy}: consumer refused, longest ms (median)`,
            get(r, strategy, 'consumerLongestFailureMsMedian'),
          );
          add('', `${strategy}: admin API window ms (median)`, get(r, strategy, 'adminWindowMsMedian'));
          add('', `${strategy}: rotation wall ms (median)`, get(r, strategy, 'wallMsMedian'));
        }
        break;
      case 'memory':
        add('5 memory', 'worker peak RSS MB (all runs)', get(r, 'peakRssMb'), verdict(get(r, 'met')));
        add('', 'worker idle RSS MB after start', get(r, 'perN', '0', 'idleRssMb', '0'));
        break;
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const [i, row] of rows.entries()) {
    out(row.map((c, j) => c.padEnd(widths[j]!)).join('  '));
    if (i === 0) out(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
