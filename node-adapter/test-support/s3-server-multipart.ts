import { randomBytes } from 'node:crypto';
import {
  errors,
  header,
  type Reply,
  readObjectBody,
  readSmallBody,
  S3Error,
  userMetadata,
  xmlReply,
} from './s3-server-http.js';
import { md5Etag, multipartEtag, type StoredPart } from './s3-server-model.js';
import { checkWriteConditions, type ObjectRequest } from './s3-server-objects.js';
import { el, elementTexts, rootElement, unescapeXml, xmlDocument } from './s3-server-xml.js';

/** CreateMultipartUpload: a new upload id; metadata and type are taken now, as in S3. */
export async function createMultipartUpload({
  request,
  bucket,
  key,
}: ObjectRequest): Promise<Reply> {
  await readSmallBody(request);
  const uploadId = randomBytes(32).toString('base64url');
  bucket.uploads.set(uploadId, {
    uploadId,
    key,
    initiated: new Date(),
    metadata: userMetadata(request),
    contentType: header(request, 'content-type') ?? 'binary/octet-stream',
    generation: bucket.generation(key),
    parts: new Map(),
  });
  return xmlReply(
    xmlDocument('InitiateMultipartUploadResult', [
      el('Bucket', bucket.name),
      el('Key', key),
      el('UploadId', uploadId),
    ]),
  );
}

function uploadOf({ request, bucket, key }: ObjectRequest) {
  const uploadId = request.query.get('uploadId') ?? '';
  const upload = bucket.uploads.get(uploadId);
  if (!upload || upload.key !== key) throw errors.noSuchUpload(uploadId);
  return upload;
}

/** UploadPart: parts 1–10,000; a part sent again replaces the earlier one. */
export async function uploadPart(target: ObjectRequest): Promise<Reply> {
  const number = target.request.query.get('partNumber') ?? '';
  if (!/^\d+$/.test(number) || Number(number) < 1 || Number(number) > 10_000) {
    throw errors.invalidArgument(
      'Part number must be an integer between 1 and 10000, inclusive',
      'partNumber',
      number,
    );
  }
  const upload = uploadOf(target);
  const data = await readObjectBody(target.request);
  // The upload may have been aborted or completed while the part was on its way.
  if (target.bucket.uploads.get(upload.uploadId) !== upload)
    throw errors.noSuchUpload(upload.uploadId);
  const part: StoredPart = { data, etag: md5Etag(data) };
  upload.parts.set(Number(number), part);
  return { status: 200, headers: { etag: part.etag } };
}

/**
 * CompleteMultipartUpload: the listed parts, in ascending order, each with the ETag
 * it was stored under, all but the last at least `minPartSize` bytes. The write
 * conditions are checked now, when the object would appear; a write to the key since
 * the upload began makes a conditional completion a 409 conflict. The ETag is S3's
 * multipart form, `"<md5 of the part md5s>-<parts>"`.
 */
export async function completeMultipartUpload(
  target: ObjectRequest,
  minPartSize: number,
): Promise<Reply> {
  const { request, bucket, key } = target;
  const upload = uploadOf(target);
  const xml = (await readSmallBody(request)).toString('utf8');
  if (rootElement(xml) !== 'CompleteMultipartUpload') throw errors.malformedXml();
  const listed = elementTexts(xml, 'Part').map((part) => {
    const [number] = elementTexts(part, 'PartNumber');
    const [etag] = elementTexts(part, 'ETag');
    if (number === undefined || etag === undefined || !/^\d+$/.test(number.trim()))
      throw errors.malformedXml();
    return { number: Number(number.trim()), etag: unescapeXml(etag.trim()) };
  });
  if (listed.length === 0) throw errors.malformedXml();
  const parts: StoredPart[] = [];
  listed.forEach(({ number, etag }, index) => {
    const previous = listed[index - 1];
    if (previous && previous.number >= number) {
      throw new S3Error(
        400,
        'InvalidPartOrder',
        'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
      );
    }
    const part = upload.parts.get(number);
    if (!part || part.etag.replace(/"/g, '') !== etag.replace(/"/g, '')) {
      throw new S3Error(
        400,
        'InvalidPart',
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { UploadId: upload.uploadId, PartNumber: String(number), ETag: etag },
      );
    }
    if (index < listed.length - 1 && part.data.byteLength < minPartSize) {
      throw new S3Error(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        {
          ProposedSize: String(part.data.byteLength),
          MinSizeAllowed: String(minPartSize),
          PartNumber: String(number),
          ETag: etag,
        },
      );
    }
    parts.push(part);
  });
  checkWriteConditions(request, bucket, key, upload.generation);
  const datas = parts.map((part) => part.data);
  const version = bucket.write(key, {
    data: Buffer.concat(datas),
    etag: multipartEtag(datas),
    metadata: upload.metadata,
    contentType: upload.contentType,
    checksumSha256: null,
  });
  bucket.uploads.delete(upload.uploadId);
  const host = header(request, 'host') ?? '127.0.0.1';
  return xmlReply(
    xmlDocument('CompleteMultipartUploadResult', [
      el('Location', `http://${host}/${bucket.name}/${encodeURI(key)}`),
      el('Bucket', bucket.name),
      el('Key', key),
      el('ETag', version.etag ?? ''),
    ]),
    bucket.versioning === 'Unversioned' ? {} : { 'x-amz-version-id': version.versionId },
  );
}

/** AbortMultipartUpload: the upload and its parts are gone. */
export async function abortMultipartUpload(target: ObjectRequest): Promise<Reply> {
  const upload = uploadOf(target);
  target.bucket.uploads.delete(upload.uploadId);
  return { status: 204 };
}
