"""Client for a colorizer served by TF Serving (REST or gRPC).

    # Serve the export (official image; CPU):
    docker run -p 8500:8500 -p 8501:8501 \
      -v "$PWD/exported/saved_model/colorizer:/models/colorizer" \
      -e MODEL_NAME=colorizer tensorflow/serving

    python export/serving_client.py photo.jpg out.png --host=localhost --protocol=rest
    python export/serving_client.py photo.jpg out.png --host=localhost --protocol=grpc
    python export/serving_client.py photo.jpg out.png --hints=hints.json   # a hint model

Both use the colorize_bytes signature: the photo goes as encoded bytes (base64 in REST JSON,
as TF Serving expects for tensors named *_bytes) and comes back as PNG bytes. With --hints
(a JSON list of {"x": X, "y": Y, "rgb": [R, G, B]} in the photo's pixels) they use
colorize_bytes_with_hints, sending the points and colours beside the photo.
"""

import argparse
import base64
import json
import sys
import urllib.request

SIGNATURE = "colorize_bytes"
HINTS_SIGNATURE = "colorize_bytes_with_hints"


def hint_tensors(hint_lists):
    """Per-photo hint lists [(x, y, (r, g, b)), ...] -> (points, colours) nested lists padded
    to one length with ignored points (the signature's hint_points, hint_rgb)."""
    count = max([len(h) for h in hint_lists] + [1])
    points, colours = [], []
    for hints in hint_lists:
        pad = count - len(hints)
        points.append([[float(x), float(y)] for x, y, _ in hints] + [[-1.0, -1.0]] * pad)
        colours.append([[int(c) for c in rgb] for _, _, rgb in hints] + [[0, 0, 0]] * pad)
    return points, colours


def read_hints(path):
    """[(x, y, (r, g, b))] from a JSON file of [{"x": X, "y": Y, "rgb": [R, G, B]}, ...];
    OSError or ValueError naming what is wrong. Points outside the photo are refused by the
    server, which knows the photo's size."""
    try:
        with open(path) as f:
            entries = json.load(f)
    except OSError as e:
        raise OSError(f"cannot read it ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e})") from None
    expected = 'expected a list of {"x": X, "y": Y, "rgb": [R, G, B]} (R, G, B in 0-255)'
    if not isinstance(entries, list):
        raise ValueError(expected)
    hints = []
    for i, entry in enumerate(entries):
        try:
            x, y, rgb = float(entry["x"]), float(entry["y"]), entry["rgb"]
            ok = isinstance(rgb, list) and len(rgb) == 3 and set(entry) == {"x", "y", "rgb"}
            ok = ok and all(type(c) is int and 0 <= c <= 255 for c in rgb)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"entry {i} is {entry!r}; {expected}")
        hints.append((x, y, tuple(rgb)))
    return hints


def rest_url(host, port, model_name):
    return f"http://{host}:{port}/v1/models/{model_name}:predict"


def rest_request(image_bytes_list, signature=SIGNATURE, hints=None):
    """JSON body of a REST predict request (row format, one instance per image); hints: one
    list of (x, y, (r, g, b)) per image for colorize_bytes_with_hints."""
    instances = [
        {"image_bytes": {"b64": base64.b64encode(b).decode("ascii")}} for b in image_bytes_list
    ]
    if hints is not None:
        signature = HINTS_SIGNATURE
        points, colours = hint_tensors(hints)
        for instance, p, c in zip(instances, points, colours, strict=True):
            instance.update(hint_points=p, hint_rgb=c)
    return {"signature_name": signature, "instances": instances}


def parse_rest_response(body):
    """[(png bytes, class probabilities)] from a REST predict response (dict or JSON text)."""
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    if "error" in body:
        raise RuntimeError(f"TF Serving error: {body['error']}")
    results = []
    for prediction in body["predictions"]:
        png = prediction["png_bytes"]
        png = base64.b64decode(png["b64"] if isinstance(png, dict) else png)
        results.append((png, list(prediction.get("class_probs", []))))
    return results


def grpc_request(image_bytes_list, model_name, signature=SIGNATURE, hints=None):
    """A tensorflow_serving PredictRequest for the colorize_bytes signature (with hints, one
    list per image: colorize_bytes_with_hints)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = HINTS_SIGNATURE if hints is not None else signature
    request.inputs["image_bytes"].CopyFrom(
        tf.make_tensor_proto(list(image_bytes_list), dtype=tf.string)
    )
    if hints is not None:
        points, colours = hint_tensors(hints)
        request.inputs["hint_points"].CopyFrom(tf.make_tensor_proto(points, dtype=tf.float32))
        request.inputs["hint_rgb"].CopyFrom(tf.make_tensor_proto(colours, dtype=tf.uint8))
    return request


def parse_grpc_response(response):
    """[(png bytes, class probabilities)] from a PredictResponse."""
    import tensorflow as tf

    pngs = tf.make_ndarray(response.outputs["png_bytes"])
    probs = tf.make_ndarray(response.outputs["class_probs"])
    return [(bytes(p), list(map(float, c))) for p, c in zip(pngs, probs, strict=True)]


def send_rest(image_bytes, host, port, model_name, timeout=30, hints=None):
    body = json.dumps(rest_request([image_bytes], hints=None if hints is None else [hints]))
    body = body.encode()
    request = urllib.request.Request(
        rest_url(host, port, model_name), data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return parse_rest_response(response.read())[0]


def send_grpc(image_bytes, host, port, model_name, timeout=30, hints=None):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(f"{host}:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = grpc_request([image_bytes], model_name, hints=None if hints is None else [hints])
        response = stub.Predict(request, timeout=timeout)
    return parse_grpc_response(response)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Colorize a photo with a TF Serving colorizer.")
    parser.add_argument("input_image")
    parser.add_argument("output_png")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--port", type=int, default=None, help="default 8501 (REST) or 8500 (gRPC)")
    parser.add_argument("--model_name", default="colorizer")
    parser.add_argument(
        "--hints",
        default=None,
        help='JSON list of colour hints, [{"x": X, "y": Y, "rgb": [R, G, B]}] in the photo\'s '
        "pixels (a model trained with hints)",
    )
    args = parser.parse_args(argv)
    try:
        with open(args.input_image, "rb") as f:
            image_bytes = f.read()
    except OSError as e:
        print(f"error: cannot read {args.input_image!r} ({e.strerror})", file=sys.stderr)
        return 2
    hints = None
    if args.hints:
        try:
            hints = read_hints(args.hints)
        except (OSError, ValueError) as e:
            print(f"error: --hints={args.hints}: {e}", file=sys.stderr)
            return 2
    port = args.port or (8501 if args.protocol == "rest" else 8500)
    send = send_rest if args.protocol == "rest" else send_grpc
    try:
        png, probs = send(image_bytes, args.host, port, args.model_name, hints=hints)
    except OSError as e:
        print(f"error: cannot reach TF Serving at {args.host}:{port} ({e})", file=sys.stderr)
        return 2
    with open(args.output_png, "wb") as f:
        f.write(png)
    top = max(range(len(probs)), key=probs.__getitem__) if probs else None
    print(f"Wrote {args.output_png}" + (f"; top class {top} ({probs[top]:.2f})" if probs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
