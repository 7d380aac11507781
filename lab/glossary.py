"""The lab's terms of art, each in a sentence or two a student can follow: the sidebar's glossary on every page, and
the help text of the widgets and metrics that use them."""
from __future__ import annotations

TERMS = {
    "AU (action unit)": "One visible movement of the face in FACS, the Facial Action Coding System: AU12 lip corner "
                        "puller is the smile's corners going up, AU4 brow lowerer the frown. The corpus draws each "
                        "expression from its AUs.",
    "EMFACS prototype": "The AUs that make up one expression (Happy: AU12 lip corner puller, often with AU6 cheek "
                        "raiser). The corpus's recipe: core AUs always move, optional ones sometimes.",
    "WAR": "Weighted average recall: the share of all clips classified right (plain accuracy). A large class "
           "weighs more.",
    "UAR": "Unweighted average recall: the mean of the seven classes' recalls, so a rare class counts as much as a "
           "common one.",
    "Optical flow (Farneback)": "How far each pixel moves between two frames, estimated by OpenCV's Farneback "
                                "method: the temporal stream's input. Colour is the direction, brightness the speed.",
    "Spatial and temporal streams": "The two halves of the network: the spatial stream reads the face crops (what "
                                    "the face looks like), the temporal stream the optical flow (how it moves).",
    "Inter-stream attention": "The module that lets each stream look at the other before their features are fused. "
                              "Bypassed: the same trained model answers without it, so you see what it changes.",
    "Real-face network": "Two frozen expression networks trained on real photographs (face-api's and fer's) that "
                         "read every face crop; the video model starts from their answer and corrects it.",
    "Saliency map": "Where in the input an attribution method says the evidence for a class lies: red pushes "
                    "towards the class, blue away from it.",
    "Grad-CAM": "A saliency method: the gradient of the class score weights a convolution layer's feature maps. "
                "Coarse, and it can survive the randomization check (then it shows edges, not the model).",
    "Integrated Gradients": "A saliency method that adds up the gradients along a path from a blank input to the clip; "
                            "its relevance should sum to the change of the class score (completeness).",
    "Randomization check": "Adebayo et al.'s sanity check: the model's weights are replaced by random ones, layer by "
                           "layer. A map that hardly changes does not explain this model.",
    "Deletion and insertion (RISE)": "Faithfulness curves: remove (or add back) the pixels or frames a map calls "
                                     "most relevant first, and watch the class probability. A faithful map makes it "
                                     "fall (or rise) faster than a random map does.",
    "Localization": "Does the map point at the facial regions whose AUs really moved in that frame? The corpus knows, "
                    "frame by frame.",
    "Causal agreement": "Does the map rank the facial regions like their real effect does: removing each region's AUs "
                        "and drawing the clip again, how much the class probability falls.",
    "Intervention": "Remove one AU from a corpus clip and draw it again, same person, motion and light: the change "
                    "of the answer is what the model really uses.",
    "TCAV": "Testing with Concept Activation Vectors: whether a class's evidence rises along the direction that "
            "separates clips showing an AU from random clips, at a layer of the network.",
    "Reliability panel": "The checks of one answer: was a face found and tracked, is the clip like the clips the "
                         "model was checked on (unfamiliarity), is the model confident enough.",
}


def markdown(terms: tuple[str, ...] | None = None) -> str:
    """The glossary (or only ``terms``, which must be in it) as a Markdown list, terms in bold: the sidebar's list,
    and the help text beside a page's words that use them."""
    return "\n".join(f"- **{term}**: {TERMS[term]}" for term in (TERMS if terms is None else terms))
