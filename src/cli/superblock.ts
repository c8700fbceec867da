// Renders a superblock for people (a two-column table) or machines (--json).

import type { SuperblockInfo } from '../../bindings/index.js';
import { formatBytes, formatCount } from './units.js';

export function superblockTable(path: string, info: SuperblockInfo): string {
  const total = info.usedPages + info.freePages;
  const usedPct = total === 0 ? 0 : (100 * info.usedPages) / total;
  const rows: Array<[string, string]> = [
    ['path', `${path} (${info.kind})`],
    ['format version', String(info.formatVersion)],
    ['cluster id', info.clusterId],
    ['unit id', String(info.unitId)],
    ['epoch', String(info.epoch)],
    ['trim mark', `${formatCount(info.trimMark)} (addresses below are trimmed)`],
    ['device', `${formatBytes(info.deviceBytes)} (${formatCount(info.deviceBytes)} bytes), logical block ${formatBytes(info.logicalBlockBytes)}`],
    ['data region', `${formatCount(info.dataPages)} pages of ${formatBytes(info.pageBytes)}`],
    ['max entry', formatBytes(info.maxEntryBytes)],
    ['used / free', `${formatCount(info.usedPages)} / ${formatCount(info.freePages)} pages (${usedPct.toFixed(1)}% used)`],
    ['head seq', formatCount(info.headSeq)],
    ['generation', String(info.generation)],
    ['index', `${formatCount(info.addresses)} addresses, ${formatBytes(info.indexBytes)} in memory once opened`],
    [
      'index checkpoint',
      info.checkpointSeq === undefined ? 'none yet' : `at page ${formatCount(info.checkpointSeq)}, ${formatBytes(info.checkpointBytes)} in ${formatCount(info.checkpointPages)} pages`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
