/**
 * Open a run's notebook snapshot in JupyterLab: fetch its JSON from the API,
 * save it under `mlops-snapshots/<run_id>.ipynb` through the Contents API and
 * open that file with the document manager.
 *
 * The folder is not hidden on purpose: jupyter_server refuses to create or open
 * hidden paths unless `ContentsManager.allow_hidden` is set.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Contents } from '@jupyterlab/services';
import { MlopsService } from './service';

export const SNAPSHOT_DIR = 'mlops-snapshots';

async function ensureDirectory(contents: Contents.IManager, path: string): Promise<void> {
  try {
    await contents.get(path, { content: false });
  } catch {
    await contents.save(path, { type: 'directory' });
  }
}

export async function openNotebookSnapshot(
  app: JupyterFrontEnd,
  service: MlopsService,
  runId: string
): Promise<void> {
  const notebook = await service.notebook(runId);
  const contents = app.serviceManager.contents;
  await ensureDirectory(contents, SNAPSHOT_DIR);
  // Run ids are hex, but never trust them into a path unchecked.
  const safe = runId.replace(/[^A-Za-z0-9_-]/g, '_');
  const path = `${SNAPSHOT_DIR}/${safe}.ipynb`;
  await contents.save(path, { type: 'notebook', format: 'json', content: notebook });
  await app.commands.execute('docmanager:open', { path });
}
