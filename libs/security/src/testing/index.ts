/** Test and benchmark helpers (`@fixmesh/security/testing`): a throw-away PKI. Not for production code. */
export { type Issued, type LeafOptions, TestPki } from "./pki.js";
