// The failure converter of every worker, client and workflow bundle: a failure's message and
// stack trace travel in its encoded attributes, a payload, so the payload codec encrypts them
// like any other payload. Whatever a failure says (a Secret's name, a store's reply) reaches
// the Temporal server only as ciphertext; the Web UI and the CLI read it through the codec.
//
// Loaded by path (DataConverter.failureConverterPath): the workflow bundle includes it.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
