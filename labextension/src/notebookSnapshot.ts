/**
 * Open a run's notebook snapshot in JupyterLab, read-only, without writing a file.
 *
 * The snapshot lives in the store (content-addressed, under its artifact root); the
 * user's project is not ours to write into. A read-only Contents drive named
 * `mlops-snapshot` serves `mlops-snapshot:<run_id>.ipynb` straight from the REST
 * route `runs/<id>/notebook`, and the document manager opens that path like any
 * other. "Save As" copies it into the project when the user wants a file.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import { MlopsService } from './service';

export const SNAPSHOT_DRIVE = 'mlops-snapshot';

const EPOCH = new Date(0).toISOString();

function readOnly(what: string): Promise<never> {
  return Promise.reject(
    new Error(
      `Run notebook snapshots are read-only (cannot ${what}): use File › Save As to keep a copy in your project.`
    )
  );
}

/** The drive's files are `<run_id>.ipynb`, one per run with a snapshot. */
class SnapshotDrive implements Contents.IDrive {
  readonly name = SNAPSHOT_DRIVE;
  readonly serverSettings: ServerConnection.ISettings;
  private _fileChanged = new Signal<Contents.IDrive, Contents.IChangedArgs>(this);
  private _disposed = false;

  constructor(private readonly _service: MlopsService, settings: ServerConnection.ISettings) {
    this.serverSettings = settings;
  }

  get fileChanged(): ISignal<Contents.IDrive, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const match = /^([A-Za-z0-9_-]+)\.ipynb$/.exec(localPath);
    if (!match) {
      throw new Error(`${SNAPSHOT_DRIVE}:${localPath} is not a run notebook (<run id>.ipynb).`);
    }
    const content = options?.content === false ? null : await this._service.notebook(match[1]);
    return {
      name: localPath,
      path: localPath,
      type: 'notebook',
      format: 'json',
      mimetype: 'application/x-ipynb+json',
      writable: false,
      created: EPOCH,
      last_modified: EPOCH,
      content
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    return readOnly(`download ${localPath}`);
  }
  async newUntitled(): Promise<Contents.IModel> {
    return readOnly('create a file');
  }
  async delete(localPath: string): Promise<void> {
    return readOnly(`delete ${localPath}`);
  }
  async rename(oldLocalPath: string): Promise<Contents.IModel> {
    return readOnly(`rename ${oldLocalPath}`);
  }
  async save(localPath: string): Promise<Contents.IModel> {
    return readOnly(`save ${localPath}`);
  }
  async copy(localPath: string): Promise<Contents.IModel> {
    return readOnly(`copy ${localPath} within the snapshots`);
  }
  async createCheckpoint(localPath: string): Promise<Contents.ICheckpointModel> {
    return readOnly(`checkpoint ${localPath}`);
  }
  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }
  async restoreCheckpoint(localPath: string): Promise<void> {
    return readOnly(`restore ${localPath}`);
  }
  async deleteCheckpoint(localPath: string): Promise<void> {
    return readOnly(`delete a checkpoint of ${localPath}`);
  }
}

const withDrive = new WeakSet<Contents.IManager>();

export async function openNotebookSnapshot(
  app: JupyterFrontEnd,
  service: MlopsService,
  runId: string
): Promise<void> {
  const contents = app.serviceManager.contents;
  if (!withDrive.has(contents)) {
    contents.addDrive(new SnapshotDrive(service, contents.serverSettings));
    withDrive.add(contents);
  }
  // Run ids are hex, but never trust them into a path unchecked.
  const safe = runId.replace(/[^A-Za-z0-9_-]/g, '_');
  const path = `${SNAPSHOT_DRIVE}:${safe}.ipynb`;
  await contents.get(path); // a run without a snapshot fails here, with the server's message
  await app.commands.execute('docmanager:open', { path });
}
