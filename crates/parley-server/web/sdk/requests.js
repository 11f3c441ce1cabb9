/**
 * The options of the SDK's requests, where they differ from a bare channel
 * name: paging cursors and limits, and the optional parts of a message.
 * Single-word options keep their wire names; the others are camelCase and
 * mapped to the protocol's snake_case when the request is sent.
 */
/** Drops `undefined` fields, so that optional params are absent on the wire. */
export function defined(params) {
    const out = {};
    for (const [key, value] of Object.entries(params)) {
        if (value !== undefined)
            out[key] = value;
    }
    return out;
}
