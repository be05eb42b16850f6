import type { BlobServiceClient } from '@azure/storage-blob';

export interface ScheduleStatus {
  Last: Date | undefined;
  Next: Date | undefined;
}

/** Persists timer status where the host keeps it: `azure-webjobs-hosts/timers/<hostId>/<function>/status`. */
export class ScheduleMonitor {
  constructor(
    private readonly blobs: BlobServiceClient | undefined,
    private readonly hostId: string,
  ) {}

  private blob(name: string) {
    return this.blobs?.getContainerClient('azure-webjobs-hosts').getBlockBlobClient(`timers/${this.hostId}/${name}/status`);
  }

  async load(name: string): Promise<ScheduleStatus | undefined> {
    const blob = this.blob(name);
    if (!blob || !(await blob.exists())) return undefined;
    const text = (await blob.downloadToBuffer()).toString('utf8');
    const json = JSON.parse(text) as { Last?: string; Next?: string };
    return { Last: json.Last ? new Date(json.Last) : undefined, Next: json.Next ? new Date(json.Next) : undefined };
  }

  async save(name: string, status: ScheduleStatus): Promise<void> {
    const blob = this.blob(name);
    if (!blob) return;
    await this.blobs?.getContainerClient('azure-webjobs-hosts').createIfNotExists();
    const body = JSON.stringify({ Last: status.Last?.toISOString(), Next: status.Next?.toISOString(), LastUpdated: new Date().toISOString() });
    await blob.upload(body, Buffer.byteLength(body));
  }
}
