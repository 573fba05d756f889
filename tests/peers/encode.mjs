// Convert between PLY and SPZ with independent implementations, for gen404's reader tests.
//
//   node encode.mjs jobs.json
//
// jobs.json: [{"tool": "niantic" | "spz-js" | "niantic-decode" | "spz-js-decode", "input": ..., "output": ...,
//              "version": 2 | 3 | 4, "from": "RDF" | "UNSPECIFIED" | ..., "to": "RDF"}, ...]
//
// "niantic" is the official SPZ library (@adobe/spz: Niantic's C++ built to WASM);
// "from" names the frame of the PLY data, which the library converts to SPZ's RUB
// (UNSPECIFIED writes the values unchanged). "niantic-decode" is its reader: SPZ to
// a float PLY, converted to frame "to". "spz-js" is a separate TypeScript port that
// writes version 2 and never converts axes; "spz-js-decode" is its reader (versions 1-2,
// values as stored, no frame). All jobs run in one process.
//
// Input PLYs: binary_little_endian, every property a float, the 3DGS names
// (f_rest count 0, 9, 24, 45 or 72 for SH degree 0-4).

import { readFileSync, writeFileSync } from 'node:fs';
import createSpzModule from '@adobe/spz';
import { loadPly, loadSpz, serializeSpz } from 'spz-js';

const REST = { 0: 0, 9: 1, 24: 2, 45: 3, 72: 4 };

function parsePly(bytes) {
    const end = bytes.indexOf('end_header\n');
    const header = new TextDecoder().decode(bytes.subarray(0, end)).split('\n');
    if (!header.includes('format binary_little_endian 1.0')) throw new Error('need binary_little_endian');
    const count = Number(header.find(l => l.startsWith('element vertex ')).split(' ')[2]);
    const names = header.filter(l => l.startsWith('property ')).map(l => {
        const [, type, name] = l.split(' ');
        if (type !== 'float') throw new Error(`property ${name} is ${type}, need float`);
        return name;
    });
    const body = new Uint8Array(bytes.subarray(end + 'end_header\n'.length));  // aligned copy
    const table = new Float32Array(body.buffer, body.byteOffset, count * names.length);
    const col = name => {
        const i = names.indexOf(name);
        if (i < 0) throw new Error(`missing ${name}`);
        return j => table[j * names.length + i];
    };
    return { count, names, col };
}

function niantic(spz, job) {
    const { count: n, names, col } = parsePly(readFileSync(job.input));
    const restTotal = names.filter(nm => nm.startsWith('f_rest_')).length;
    const degree = REST[restTotal];
    if (degree === undefined) throw new Error(`${restTotal} f_rest properties`);
    const k = restTotal / 3;
    const get = ns => ns.map(col);
    const [x, y, z] = get(['x', 'y', 'z']);
    const [s0, s1, s2] = get(['scale_0', 'scale_1', 'scale_2']);
    const [r0, r1, r2, r3] = get(['rot_0', 'rot_1', 'rot_2', 'rot_3']);
    const [c0, c1, c2] = get(['f_dc_0', 'f_dc_1', 'f_dc_2']);
    const op = col('opacity');
    const rest = Array.from({ length: restTotal }, (_, i) => col(`f_rest_${i}`));
    const cloud = {
        numPoints: n, shDegree: degree, antialiased: false, extensions: [],
        positions: new Float32Array(n * 3), scales: new Float32Array(n * 3),
        rotations: new Float32Array(n * 4), alphas: new Float32Array(n),
        colors: new Float32Array(n * 3), sh: new Float32Array(n * restTotal),
    };
    for (let i = 0; i < n; i++) {
        cloud.positions.set([x(i), y(i), z(i)], i * 3);
        cloud.scales.set([s0(i), s1(i), s2(i)], i * 3);
        cloud.rotations.set([r1(i), r2(i), r3(i), r0(i)], i * 4); // the library wants x y z w
        cloud.alphas[i] = op(i);
        cloud.colors.set([c0(i), c1(i), c2(i)], i * 3);
        for (let j = 0; j < k; j++) {  // PLY channel-major -> SPZ coefficient-major
            for (let c = 0; c < 3; c++) cloud.sh[i * restTotal + j * 3 + c] = rest[c * k + j](i);
        }
    }
    const options = {
        version: job.version, from: spz.CoordinateSystem[job.from ?? 'RDF'],
        sh1Bits: 8, shRestBits: 8,  // finest quantisation: tests see the decoder, not buckets
    };
    return spz.saveSpzToBuffer(cloud, options);
}

function nianticDecode(spz, job) {
    const cloud = spz.loadSpzFromBuffer(readFileSync(job.input), { to: spz.CoordinateSystem[job.to ?? 'RDF'] });
    return cloudToPly(cloud, job);
}

// A decoded cloud (x y z w rotations, logit alphas, log scales) as a float PLY.
function cloudToPly(cloud, job) {
    const n = cloud?.numPoints;
    if (!n) throw new Error(`${job.tool} could not read ${job.input}`);
    const k = cloud.sh.length / n / 3;
    const names = ['x', 'y', 'z', 'f_dc_0', 'f_dc_1', 'f_dc_2',
        ...Array.from({ length: 3 * k }, (_, i) => `f_rest_${i}`),
        'opacity', 'scale_0', 'scale_1', 'scale_2', 'rot_0', 'rot_1', 'rot_2', 'rot_3'];
    const table = new Float32Array(n * names.length);
    for (let i = 0; i < n; i++) {
        const row = [...cloud.positions.subarray(i * 3, i * 3 + 3), ...cloud.colors.subarray(i * 3, i * 3 + 3)];
        for (let c = 0; c < 3; c++) {  // coefficient-major -> PLY channel-major
            for (let j = 0; j < k; j++) row.push(cloud.sh[i * 3 * k + j * 3 + c]);
        }
        const r = cloud.rotations.subarray(i * 4, i * 4 + 4);
        row.push(cloud.alphas[i], ...cloud.scales.subarray(i * 3, i * 3 + 3), r[3], r[0], r[1], r[2]);
        table.set(row, i * names.length);
    }
    const header = ['ply', 'format binary_little_endian 1.0', `element vertex ${n}`,
        ...names.map(nm => `property float ${nm}`), 'end_header', ''].join('\n');
    return Buffer.concat([Buffer.from(header), Buffer.from(table.buffer)]);
}

async function spzJsDecode(job) {
    return cloudToPly(await loadSpz(new Uint8Array(readFileSync(job.input))), job);  // bytes, not a buffer
}

async function spzJs(job) {
    if (job.version !== 2) throw new Error('spz-js writes version 2 only');
    const stream = new Blob([readFileSync(job.input)]).stream();
    return serializeSpz(await loadPly(stream));
}

const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let spz = null;
for (const job of jobs) {
    let bytes;
    if (job.tool.startsWith('niantic')) {
        spz ??= await createSpzModule({ print: () => {}, printErr: () => {} });
        bytes = job.tool === 'niantic' ? niantic(spz, job) : nianticDecode(spz, job);
    } else if (job.tool === 'spz-js') {
        bytes = await spzJs(job);
    } else if (job.tool === 'spz-js-decode') {
        bytes = await spzJsDecode(job);
    } else {
        throw new Error(`unknown tool ${job.tool}`);
    }
    if (!bytes || bytes.length === 0) throw new Error(`${job.tool} wrote nothing for ${job.input}`);
    writeFileSync(job.output, bytes);
}
