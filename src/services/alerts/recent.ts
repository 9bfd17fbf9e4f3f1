/**
 * What the alerts service remembers about alerts it consumed in this run (not durable, bounded): the frame time and
 * the receive stamp for the latency metrics at delivery, and the source partition/offset and stages for a dead
 * letter. After a restart an alert delivered from the spool has no entry; callers fall back (see alerts.ts).
 */
import type { StageStamp } from '../../schema';

export interface RecentAlert {
  frameTs: number;
  received: StageStamp;
  stages: StageStamp[];
  partition: number;
  offset: string;
}

export class RecentAlerts {
  private readonly map = new Map<string, RecentAlert>();

  constructor(private readonly cap = 10_000) {}

  set(id: string, entry: RecentAlert): void {
    this.map.delete(id); // re-insert as the newest
    this.map.set(id, entry);
    while (this.map.size > this.cap) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get(id: string): RecentAlert | undefined {
    return this.map.get(id);
  }

  get size(): number {
    return this.map.size;
  }
}
