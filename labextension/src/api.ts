/**
 * The one HTTP helper every call to the jupyter_mlops REST API goes through.
 *
 * It relies on `ServerConnection` so the token header, XSRF cookie and base URL
 * are handled exactly as JupyterLab does for its own services.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Path of the versioned API below the server's base URL. */
export const API_PREFIX = 'mlops/api/v1';

/** An error response from the API, carrying the server's own message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Build the absolute URL of an API endpoint, with an optional query string. */
export function apiUrl(
  endPoint: string,
  query?: URLSearchParams,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const url = URLExt.join(settings.baseUrl, API_PREFIX, endPoint);
  const qs = query ? query.toString() : '';
  return qs ? `${url}?${qs}` : url;
}

/** Send a request and return the raw response, throwing `ApiError` on failure. */
export async function requestRaw(
  endPoint: string,
  init: RequestInit = {},
  query?: URLSearchParams,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<Response> {
  const url = apiUrl(endPoint, query, settings);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  if (!response.ok) {
    throw await toApiError(response);
  }
  return response;
}

/** Send a request and decode its JSON body as `T`. */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  query?: URLSearchParams,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const response = await requestRaw(endPoint, init, query, settings);
  const text = await response.text();
  return (text ? JSON.parse(text) : null) as T;
}

async function toApiError(response: Response): Promise<ApiError> {
  let type = response.statusText || 'Error';
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      type = body.error.type ?? type;
      message = body.error.message ?? message;
    } else if (body && body.message) {
      message = body.message;
    }
  } catch {
    // A non-JSON error page (e.g. a proxy's): keep the status line.
  }
  return new ApiError(response.status, type, message);
}
