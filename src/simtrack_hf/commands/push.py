"""`simtrack push-to-hub`: upload a SimTrack variant (weights, processor, remote code, model card) to the Hub,
or write the exact upload folder (`--dry-run`), or refresh the model cards and their FLOPs."""

from __future__ import annotations

import argparse
import re
import tempfile

from ..configuration_simtrack import SIMTRACK_VARIANTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=sorted(SIMTRACK_VARIANTS),
                        help="the published variant (optional with --from-folder: a folder whose config is no "
                             "preset gets a card of its own configuration)")
    parser.add_argument("--repo-id", help="ORG/NAME on the Hub")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", help="original SimTrack .pth (converted and parity-checked)")
    source.add_argument("--from-folder", help="a simtrack_hf training output (save_pretrained folder)")
    source.add_argument("--clip", help="a CLIPVisionModel folder: CLIP initialisation, untrained head")
    parser.add_argument("--dry-run", metavar="DIR", help="write the exact upload folder to DIR and push nothing")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--revision", "--branch", dest="revision", help="branch to push to (created if missing)")
    parser.add_argument("--commit-message")
    parser.add_argument("--weights-note", default="", help="extra text for the card's Weights section (e.g. training)")
    parser.add_argument("--allow-config-mismatch", action="store_true",
                        help="accept a --from-folder config that differs from the variant preset (noted in the card)")
    parser.add_argument("--write-cards", action="store_true", help="regenerate the model cards and exit")
    parser.add_argument("--measure-flops", action="store_true", help="re-measure FLOPs into model_cards/variants.json")


def run(args: argparse.Namespace) -> None:
    from ..configuration_simtrack import SimTrackConfig
    from ..io.paths import check_outputs
    from ..tools.hub import (
        config_differences, export_for_hub, load_weights, nearest_variant, push_folder, write_cards,
        write_measured_flops,
    )

    if args.measure_flops or args.write_cards:
        if args.measure_flops:
            for name, flops in write_measured_flops().items():
                first, later = flops["full_forward"] / 1e9, flops["per_frame"] / 1e9
                print(f"{name}: {first:.2f} GFLOPs first frame, {later:.2f} later frames")
        if args.write_cards:
            print("\n".join(f"wrote {path}" for path in write_cards()))
        return
    if not args.repo_id or not (args.checkpoint or args.from_folder or args.clip):
        raise ValueError("give --repo-id and one of --checkpoint / --from-folder / --clip")
    check_outputs({"--checkpoint": args.checkpoint, "--from-folder": args.from_folder, "--clip": args.clip},
                  {"--dry-run": args.dry_run})
    allow_mismatch = args.allow_config_mismatch
    if args.variant is None and args.from_folder:  # the card describes the folder's own configuration
        config = SimTrackConfig.from_pretrained(args.from_folder)
        args.variant, allow_mismatch = nearest_variant(config), True
        if config_differences(config, args.variant):
            print(f"{args.from_folder}: a custom configuration (nearest preset {args.variant}); the card describes it")
    if args.variant is None:
        raise ValueError("give --variant with --checkpoint / --clip")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo_id):
        raise ValueError(f"--repo-id must look like ORG/NAME, got {args.repo_id!r}")
    try:
        model, processor, source = load_weights(
            args.variant, checkpoint=args.checkpoint, from_folder=args.from_folder, clip=args.clip,
            allow_config_mismatch=allow_mismatch,
        )
    except (ValueError, OSError) as err:
        raise SystemExit(f"error: {err}") from err
    source.note = args.weights_note
    if args.dry_run:
        files = export_for_hub(model, processor, args.variant, args.dry_run, source, repo_id=args.repo_id)
        print(f"dry run: wrote {args.dry_run} ({', '.join(files)}); nothing pushed")
        return
    with tempfile.TemporaryDirectory() as tmp:
        export_for_hub(model, processor, args.variant, tmp, source, repo_id=args.repo_id)
        url = push_folder(tmp, args.repo_id, private=args.private, revision=args.revision,
                          commit_message=args.commit_message)
    print(f"pushed {args.repo_id}: {url}")
