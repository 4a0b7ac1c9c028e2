// Uploads that report their progress and can be cancelled: fetch() cannot report an upload's progress,
// XMLHttpRequest can. The session's token goes with them, renewed once on a 401 like every other call.
import { API, ApiError, renewOrSignIn } from './api.js';
import * as session from './session.js';

// const { promise, cancel } = upload('/cloud/files', formData, { onProgress: (sent, total) => ... })
// `promise` resolves to the envelope's data; it rejects with an ApiError, or an AbortError once cancelled.
export function upload(path, form, { method = 'POST', onProgress } = {}) {
    let request = null;
    let cancelled = false;
    const sendOnce = () => new Promise((resolve, reject) => {
        request = new XMLHttpRequest();
        request.open(method, API + path);
        request.responseType = 'json';
        request.setRequestHeader('Accept', 'application/json');
        const { token } = session.current();
        if (token) request.setRequestHeader('Authorization', `Bearer ${token}`);
        request.upload.onprogress = (event) => {
            if (event.lengthComputable) onProgress?.(event.loaded, event.total);
        };
        request.onload = () => resolve({ status: request.status, body: request.response });
        request.onerror = () => reject(new ApiError(0, null));
        request.onabort = () => reject(new DOMException('The upload was cancelled', 'AbortError'));
        request.send(form);
    });
    const run = async () => {
        let answer = await sendOnce();
        if (answer.status === 401 && !cancelled) {
            await renewOrSignIn(); // the file is sent again once the session is back
            answer = await sendOnce();
        }
        if (answer.status < 200 || answer.status >= 300) throw new ApiError(answer.status, answer.body);
        return answer.body?.data;
    };
    return {
        promise: run(),
        cancel: () => {
            cancelled = true;
            request?.abort();
        },
    };
}
